import ArgumentParser
import Foundation

/// `berth`: a client of berthd's Docker-compatible API, with Docker's flags.
@main
struct Berth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Run and network containers through berthd.",
        discussion: "Global option -H/--host (or BERTH_HOST) picks the daemon: berth -H unix:///run/berth.sock ps",
        subcommands: [
            Run.self, Create.self, Start.self, Stop.self, Kill.self, Remove.self, ListContainers.self, Inspect.self,
            Exec.self, Logs.self, Wait.self, Port.self, Events.self, ImageCommand.self, Images.self, NetworkCommand.self, Version.self,
        ])

    /// `-H` may stand before the subcommand, as with docker; ArgumentParser only sees
    /// options after it, so the global flags are taken out of argv first.
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "-H" || argument == "--host", index + 1 < arguments.count {
                Daemon.hostOverride.withLock { $0 = arguments[index + 1] }
                arguments.removeSubrange(index...(index + 1))
            } else if argument.hasPrefix("--host=") {
                Daemon.hostOverride.withLock { $0 = String(argument.dropFirst("--host=".count)) }
                arguments.remove(at: index)
            } else if argument.hasPrefix("-") {
                index += 1
            } else {
                break
            }
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data(("berth: " + failure.message + "\n").utf8))
            Foundation.exit(failure.exitCode)
        } catch let exit as ExitWithCode {
            Foundation.exit(exit.code)
        } catch {
            exit(withError: error)
        }
    }
}

/// An error already phrased for the user: one line, then a non-zero exit.
struct CLIFailure: Error {
    var message: String
    var exitCode: Int32 = 1
}

/// Leaves with a given status (the container's exit code for `run` and `exec`).
struct ExitWithCode: Error {
    var code: Int32
}
