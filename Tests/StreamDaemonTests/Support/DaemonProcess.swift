import Foundation
import Synchronization

/// A `qrt-detr serve` process for black-box tests: config written to a temporary directory,
/// stdout and stderr captured to files (or stdout to a pipe the test controls), optionally a
/// real systemd notify socket. Killed on deinit if still running.
final class DaemonProcess {
    let directory: URL
    let configURL: URL
    let stdoutURL: URL
    let stderrURL: URL
    let process = Process()
    private(set) var notify: NotifySocket?
    /// When the test reads stdout through a pipe instead of a file.
    private(set) var stdoutPipe: Pipe?

    struct Options {
        var notifySocket = false
        /// Sets WATCHDOG_USEC (with a notify socket).
        var watchdogSeconds: Double?
        var stdoutToPipe = false
        var environment: [String: String] = [:]
    }

    init(config: String, options: Options = Options()) throws {
        guard let binary = TestSupport.binary else { throw TestSupport.ToolError(description: "qrt-detr binary not found") }
        directory = try TestSupport.temporaryDirectory("serve")
        configURL = directory.appendingPathComponent("qrt-detr.json")
        stdoutURL = directory.appendingPathComponent("stdout.jsonl")
        stderrURL = directory.appendingPathComponent("stderr.log")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)

        var environment = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "STATE_DIRECTORY"] {
            environment[key] = nil
        }
        if options.notifySocket {
            let socket = try NotifySocket(path: directory.appendingPathComponent("notify.sock").path)
            notify = socket
            environment["NOTIFY_SOCKET"] = socket.path
            if let watchdog = options.watchdogSeconds { environment["WATCHDOG_USEC"] = String(Int(watchdog * 1e6)) }
        }
        for (key, value) in options.environment { environment[key] = value }

        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--config", configURL.path]
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        if options.stdoutToPipe {
            let pipe = Pipe()
            stdoutPipe = pipe
            process.standardOutput = pipe
        } else {
            process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        }
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to end; nil if it is still running after `timeout` (it is then killed).
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Complete lines of stdout parsed as JSON objects (a partly written last line is left out).
    func records() -> [[String: Any]] {
        let text = stdout
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
        return (try? TestSupport.parseLines(complete)) ?? []
    }

    func records(type: String, stream: String? = nil, event: String? = nil) -> [[String: Any]] {
        records().filter {
            $0["type"] as? String == type && (stream == nil || $0["stream"] as? String == stream)
                && (event == nil || $0["event"] as? String == event)
        }
    }

    @discardableResult
    func waitForRecords(timeout: Double, _ condition: ([[String: Any]]) -> Bool) -> Bool {
        TestSupport.waitUntil(timeout: timeout, poll: 0.1) { condition(records()) }
    }

    /// The port from the "metrics on http://127.0.0.1:PORT/metrics" log line.
    func metricsPort(timeout: Double) -> Int? {
        var port: Int?
        TestSupport.waitUntil(timeout: timeout) {
            guard let range = stderr.range(of: #"metrics on http://[^ ]*:(\d+)/metrics"#, options: .regularExpression) else { return false }
            let match = String(stderr[range])
            port = Int(match.split(separator: ":").last!.split(separator: "/").first!)
            return port != nil
        }
        return port
    }

    /// A short description for failed expectations.
    var diagnostics: String {
        "stderr:\n\(stderr.suffix(3000))\nstdout (\(stdout.count) bytes):\n\(stdout.suffix(1500))"
    }
}

/// A datagram socket standing in for systemd's notify socket: collects every message sent to it.
final class NotifySocket: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private let closed = Atomic<Bool>(false)

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8)
            precondition(bytes.count < buffer.count, "socket path too long")
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw TestSupport.ToolError(description: "cannot bind \(path): \(String(cString: strerror(errno)))") }
        let thread = Thread { [self] in readLoop() }
        thread.start()
    }

    deinit {
        closed.store(true, ordering: .relaxed)
        close(fd)
        unlink(path)
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !closed.load(ordering: .relaxed) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { continue }
            let message = String(decoding: buffer[..<count], as: UTF8.self)
            lock.lock()
            received.append(message)
            lock.unlock()
        }
    }

    /// Every datagram so far, in order.
    var messages: [String] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Every `KEY=value` assignment so far, in order.
    var assignments: [String] { messages.flatMap { $0.split(separator: "\n").map(String.init) } }

    func count(_ assignment: String) -> Int { assignments.filter { $0 == assignment }.count }

    @discardableResult
    func waitFor(_ assignment: String, count: Int = 1, timeout: Double) -> Bool {
        TestSupport.waitUntil(timeout: timeout) { self.count(assignment) >= count }
    }
}
