import BerthCore
import ContainerRuntime
import DockerAPI
import Foundation
import HTTPUnix

enum AttachOutcome: Sendable {
    case outputEnded, detached, inputEnded
}

/// One attached client: the log so far when asked, then the container's output until its
/// run ends, and the client's input to the container's stdin. Subscribed when made, before
/// the response goes out, so no output between the attach and the start is lost.
struct AttachSession: Sendable {
    let stdio: ContainerStdio
    let run: Int
    let output: AsyncStream<OutputEvent>?
    let tty: Bool
    let stdin: Bool
    let stdout: Bool
    let stderr: Bool
    let stdinOnce: Bool
    let logs: Bool
    let detachKeys: [UInt8]

    /// Reads Docker's attach parameters; refuses what it cannot honour before anything happens.
    init(stdio: ContainerStdio, config: ContainerConfig, query: QueryParameters) throws(BerthError) {
        self.stdio = stdio
        tty = config.Tty ?? false
        let wantsStdin = query.bool("stdin") ?? false
        // A container without OpenStdin has no stdin to write to; Docker ignores the flag then.
        stdin = wantsStdin && (config.OpenStdin ?? false)
        stdout = query.bool("stdout") ?? false
        stderr = query.bool("stderr") ?? false
        stdinOnce = config.StdinOnce ?? false
        logs = query.bool("logs") ?? false
        let stream = query.bool("stream") ?? false
        if let text = query["detachKeys"], !text.isEmpty {
            detachKeys = try DetachKeys.parse(text)
        } else {
            detachKeys = DetachKeys.standard
        }
        run = stdio.targetRun
        output = stream ? stdio.subscribe() : nil
    }

    func serve(_ writer: RawStreamWriter) async {
        if logs {
            var query = LogQuery()
            query.stdout = stdout
            query.stderr = stderr
            // A client gone mid-replay ends the session below as well.
            try? await LogStreamer.stream(directory: stdio.directory, id: stdio.id, query: query,
                                          write: { bytes, kind in try await send(bytes, kind, writer) },
                                          isCapturing: { false })
        }
        guard let output else { return }
        await withTaskGroup(of: AttachOutcome.self) { group in
            group.addTask {
                for await event in output {
                    switch event {
                    case .output(let kind, let bytes):
                        guard (kind == .stderr && stderr) || (kind != .stderr && stdout) else { continue }
                        do { try await send(bytes, kind, writer) } catch { return .outputEnded }
                    case .ended:
                        return .outputEnded
                    }
                }
                return .outputEnded
            }
            if stdin {
                group.addTask { await forwardInput(writer.input) }
            }
            while let outcome = await group.next() {
                if outcome != .inputEnded {
                    group.cancelAll()
                    break
                }
            }
        }
    }

    private func send(_ bytes: [UInt8], _ kind: RawStream.Kind, _ writer: RawStreamWriter) async throws {
        if tty {
            try await writer.write(bytes)
        } else {
            try await writer.write(kind == .stderr ? .stderr : .stdout, bytes)
        }
    }

    /// Client input to the container's stdin until the client's input ends (then, with
    /// StdinOnce, the container's stdin ends too) or the detach keys come.
    private func forwardInput(_ input: RawInput) async -> AttachOutcome {
        var scanner = DetachKeyScanner(keys: detachKeys)
        var fd: Int32?
        defer { if let fd, fd >= 0 { close(fd) } }
        do {
            for try await chunk in input {
                let (forward, detach) = scanner.feed(chunk)
                if !forward.isEmpty {
                    if fd == nil { fd = await stdio.input(forRun: run) }
                    // A container that stopped reading (or never had stdin) drops the input.
                    if let target = fd, target >= 0, !(await writeAll(target, forward)) {
                        close(target)
                        fd = -1
                    }
                }
                if detach { return .detached }
            }
        } catch {
            return .outputEnded  // the connection failed: nothing more to do for this client
        }
        if stdinOnce {
            // The run this client talks to must have begun for its stdin to be closed.
            if fd == nil { fd = await stdio.input(forRun: run) }
            stdio.closeInput(ofRun: run)
        }
        return .inputEnded
    }
}
