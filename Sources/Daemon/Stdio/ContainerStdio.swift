import BerthCore
import ContainerRuntime
import Dispatch
import Foundation
import HTTPUnix
import Synchronization

/// What an attached client hears about a container's output.
enum OutputEvent: Sendable {
    case output(RawStream.Kind, [UInt8])
    /// The run's output is complete (every process gone, the pipes drained).
    case ended
}

/// berthd's side of one run's stdio: FIFO read ends (non-TTY) or the pty master (TTY), the
/// stdin write end, and the holder keeping the master or stdin open while berthd is away.
struct RunDescriptors: Sendable {
    var stdout: Int32 = -1
    var stderr: Int32 = -1
    var terminal: Int32 = -1
    var stdin: Int32 = -1
    var holder: DescriptorHolder?
}

/// One container's output capture, attached clients and stdin. Output is read by the
/// daemon's `OutputPoller`, appended to the json-file log and handed to every attached
/// client as it comes.
final class ContainerStdio: Sendable {
    static let holderFileName = "stdio-holder.json"

    let id: String
    let directory: String
    private let queue: DispatchQueue
    private let poller: OutputPoller

    private struct State {
        var subscribers: [Int: AsyncStream<OutputEvent>.Continuation] = [:]
        var nextSubscriber = 0
        var capturing = false
        var runsBegun = 0
        var openOutputs = 0
        var splitters: [RawStream.Kind: LineSplitter] = [:]
        var log: Int32 = -1
        /// Where client input goes: the stdin FIFO's write end or a copy of the pty master.
        var input: Int32 = -1
        var terminal: Int32 = -1
        var holder: DescriptorHolder?
        var tty = false
    }

    private let state = Mutex(State())

    init(id: String, directory: String, queue: DispatchQueue, poller: OutputPoller) {
        self.id = id
        self.directory = directory
        self.queue = queue
        self.poller = poller
    }

    var logPath: String { directory + "/" + id + JSONLog.fileSuffix }
    var isCapturing: Bool { state.withLock { $0.capturing } }
    var isTerminal: Bool { state.withLock { $0.tty } }

    // MARK: Runs

    /// Starts capturing a run's output from `descriptors` (owned from now on).
    func begin(_ descriptors: RunDescriptors, tty: Bool) {
        var reads: [(Int32, RawStream.Kind)] = []
        if descriptors.terminal >= 0 {
            reads.append((descriptors.terminal, .stdout))
        } else {
            if descriptors.stdout >= 0 { reads.append((descriptors.stdout, .stdout)) }
            if descriptors.stderr >= 0 { reads.append((descriptors.stderr, .stderr)) }
        }
        // Nothing to read (a container an older berth started): no empty log in front of its old one.
        let log = reads.isEmpty ? -1 : open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        let run = state.withLock { state -> Int in
            state.capturing = true
            state.runsBegun += 1
            state.openOutputs = reads.count
            state.splitters = [:]
            if state.log >= 0 { close(state.log) }
            state.log = log
            state.tty = tty
            state.holder = descriptors.holder
            state.terminal = descriptors.terminal >= 0 ? dup(descriptors.terminal) : -1
            if tty {
                state.input = descriptors.stdin >= 0 ? dup(descriptors.terminal) : -1
                if descriptors.stdin >= 0 && descriptors.stdin != descriptors.terminal { close(descriptors.stdin) }
            } else {
                state.input = descriptors.stdin
            }
            return state.runsBegun
        }
        writeHolderFile(descriptors.holder)
        if reads.isEmpty {
            finish()
            return
        }
        for (fd, kind) in reads {
            poller.add(fd, onData: { [self] bytes in deliver(kind, bytes, run: run) },
                       onClosed: { [self] in outputClosed(run: run) })
        }
    }

    private func deliver(_ kind: RawStream.Kind, _ bytes: [UInt8], run: Int) {
        let time = LogTime.now()
        state.withLock { state in
            // A run given up on (processExited) still drains its pipes; the output is stale.
            guard state.capturing, state.runsBegun == run else { return }
            var splitter = state.splitters[kind] ?? LineSplitter()
            let lines = splitter.feed(bytes)
            state.splitters[kind] = splitter
            for line in lines { Self.append(LogEntry(stream: kind, time: time, bytes: line), to: state.log) }
            for subscriber in state.subscribers.values { subscriber.yield(.output(kind, bytes)) }
        }
    }

    private static func append(_ entry: LogEntry, to log: Int32) {
        guard log >= 0 else { return }
        let line = JSONLog.line(entry)
        // A full disk loses log lines, never the container's progress.
        _ = line.withUnsafeBytes { write(log, $0.baseAddress, $0.count) }
    }

    private func outputClosed(run: Int) {
        let done = state.withLock { state -> Bool in
            guard state.runsBegun == run else { return false }  // a run cut short before this one
            state.openOutputs -= 1
            return state.openOutputs == 0 && state.capturing
        }
        if done { finish() }
    }

    /// The run's output is complete: flush, tell the attached clients, let go of stdin and
    /// the holder. Without a run (the container was removed) only the clients end.
    func finish() {
        let (subscribers, holder, ended) = state.withLock { state in
            let subscribers = Array(state.subscribers.values)
            state.subscribers = [:]
            guard state.capturing else { return (subscribers, DescriptorHolder?.none, false) }
            state.capturing = false
            let time = LogTime.now()
            for (kind, var splitter) in state.splitters {
                if let rest = splitter.finish() { Self.append(LogEntry(stream: kind, time: time, bytes: rest), to: state.log) }
            }
            state.splitters = [:]
            for descriptor in [state.log, state.input, state.terminal] where descriptor >= 0 { close(descriptor) }
            state.log = -1
            state.input = -1
            state.terminal = -1
            defer { state.holder = nil }
            return (subscribers, state.holder, true)
        }
        holder?.stop()
        if ended { unlink(directory + "/" + Self.holderFileName) }
        for subscriber in subscribers {
            subscriber.yield(.ended)
            subscriber.finish()
        }
    }

    /// The container's process is gone: its output ends at EOF, or after `grace` if
    /// something kept the pipes open.
    func processExited(grace: DispatchTimeInterval = .seconds(2)) {
        let run = state.withLock { $0.runsBegun }
        queue.asyncAfter(deadline: .now() + grace) { [weak self] in
            guard let self else { return }
            let stale = self.state.withLock { $0.capturing && $0.runsBegun == run }
            if stale { self.finish() }
        }
    }

    // MARK: Clients

    /// Output from now until the end of the current run, or of the next one when none runs.
    func subscribe() -> AsyncStream<OutputEvent> {
        let (stream, continuation) = AsyncStream<OutputEvent>.makeStream()
        let key = state.withLock { state -> Int in
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: key) }
        }
        return stream
    }

    /// The run a client attaching now talks to: the current one, else the next.
    var targetRun: Int { state.withLock { $0.capturing ? $0.runsBegun : $0.runsBegun + 1 } }

    /// A copy of where input goes for run `run`, once that run has begun; nil when it has no
    /// stdin (or it was closed). Waits while the run has not begun (attach before start).
    func input(forRun run: Int) async -> Int32? {
        while true {
            let (begun, fd) = state.withLock { state -> (Int, Int32) in
                let fd = state.runsBegun == run && state.capturing && state.input >= 0 ? dup(state.input) : -1
                return (state.runsBegun, fd)
            }
            if begun >= run { return fd >= 0 ? fd : nil }
            do { try await Task.sleep(for: .milliseconds(10)) } catch { return nil }
        }
    }

    /// StdinOnce: the attached client's input ended, so the container's stdin ends too. A
    /// terminal stays (closing it would hang the container up).
    func closeInput(ofRun run: Int) {
        let holder = state.withLock { state -> DescriptorHolder? in
            guard state.runsBegun == run, !state.tty, state.input >= 0 else { return nil }
            close(state.input)
            state.input = -1
            defer { state.holder = nil }
            return state.holder
        }
        holder?.stop()
    }

    /// TIOCSWINSZ on the terminal; false when the container has none now.
    func resize(rows: UInt16, columns: UInt16) -> Bool {
        state.withLock { state in
            state.terminal >= 0 && setWindowSize(state.terminal, rows: rows, columns: columns)
        }
    }

    // MARK: Holder record

    private func writeHolderFile(_ holder: DescriptorHolder?) {
        let path = directory + "/" + Self.holderFileName
        guard let holder, let data = try? JSONEncoder().encode(holder) else {
            unlink(path)
            return
        }
        // Without the file a restarted berthd cannot take the descriptor back; the run goes on.
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func readHolder(directory: String) -> DescriptorHolder? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + holderFileName) else { return nil }
        return try? JSONDecoder().decode(DescriptorHolder.self, from: data)
    }
}
