import Foundation

/// Paths, tools and small fixtures the daemon tests share.
enum TestSupport {
    /// The repository root (this file is Tests/StreamDaemonTests/Support/TestSupport.swift).
    static let repoRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The tiny random-weight RT-DETR (tools/reference/FIXTURE.md).
    static let tinyModel = repoRoot.appendingPathComponent("Tests/QRTCoreTests/Fixtures/tiny").path
    static var haveTinyModel: Bool {
        FileManager.default.fileExists(atPath: tinyModel + "/model.safetensors")
    }

    static func decodeFixture(_ name: String) -> String {
        repoRoot.appendingPathComponent("tools/fixtures/decode").appendingPathComponent(name).path
    }

    /// The built `qrt-detr`, beside the test bundle (`<scratch>/debug/qrt-detr`), or `$QRT_DETR_BINARY`.
    static let binary: String? = {
        if let path = ProcessInfo.processInfo.environment["QRT_DETR_BINARY"] { return path }
        var candidates: [URL] = []
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(argv0.deletingLastPathComponent())
        if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for directory in candidates {
            // The test runner may sit inside `X.xctest/` or beside it.
            for dir in [directory, directory.deletingLastPathComponent(), directory.deletingLastPathComponent().deletingLastPathComponent()] {
                let path = dir.appendingPathComponent("qrt-detr").path
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
        }
        return nil
    }()

    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/sbin", "/usr/bin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static let ffmpeg = executable("ffmpeg")
    static let ffprobe = executable("ffprobe")
    static let mosquitto = executable("mosquitto")

    /// A fresh temporary directory.
    static func temporaryDirectory(_ tag: String = "daemon") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qrt-\(tag)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    struct ToolError: Error, CustomStringConvertible { let description: String }

    /// Runs a tool to completion with a time limit; returns status, stdout and stderr.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], timeout: Double = 60,
                    environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let directory = try temporaryDirectory("run")
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out"), err = directory.appendingPathComponent("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ToolError(description: "\(tool) \(arguments.joined(separator: " ")) ran past \(timeout) s")
        }
        process.waitUntilExit()
        return (process.terminationStatus,
                (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// `ffprobe -count_frames`: the frames a decoder gets out of the first video stream.
    static func countFrames(_ path: String) throws -> Int {
        guard let ffprobe else { throw ToolError(description: "ffprobe is not installed") }
        let result = try run(ffprobe, ["-v", "error", "-count_frames", "-select_streams", "v:0",
                                       "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path])
        guard let count = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ToolError(description: "ffprobe said '\(result.stdout)'")
        }
        return count
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until `condition` holds, polling, for at most `timeout` seconds.
    @discardableResult
    static func waitUntil(timeout: Double, poll: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(useconds_t(poll * 1e6))
        }
        return try condition()
    }

    /// Parses JSON Lines into objects; fails on any line that is not a JSON object.
    static func parseLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw ToolError(description: "not a JSON object: \(line)")
            }
            return object
        }
    }

    /// A daemon config as JSON text, with the tiny model and the given streams and extras.
    static func config(streams: [[String: Any]], sinks: [[String: Any]] = [["type": "stdout"]],
                       extra: [String: Any] = [:], inputSize: Int = 64) -> String {
        var object: [String: Any] = [
            "version": 1,
            "model": ["path": tinyModel, "id": "tiny", "input_size": inputSize, "threads": 1, "score_threshold": 0.3],
            "streams": streams,
            "sinks": sinks,
            "log_level": "debug",
        ]
        for (key, value) in extra { object[key] = value }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

extension TestSupport {
    /// A plain HTTP/1.0 GET on 127.0.0.1: status code and body.
    static func httpGet(port: Int, path: String, timeout: Double = 5) throws -> (status: Int, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var time = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ToolError(description: "connect to port \(port): \(String(cString: strerror(errno)))") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let headerEnd = text.range(of: "\r\n\r\n"),
              let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
            throw ToolError(description: "bad HTTP response: \(text.prefix(200))")
        }
        return (status, String(text[headerEnd.upperBound...]))
    }

    /// Starts a helper process (a server) with stdout/stderr to a log file; the caller kills it.
    static func spawn(_ tool: String, _ arguments: [String], log: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Sends `signal`, then SIGKILL if the process is still there after `grace` seconds.
    /// (Children of the test runner may inherit a blocked SIGTERM, so SIGKILL is the default.)
    static func stop(_ process: Process?, signal: Int32 = SIGKILL, grace: Double = 3) {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, signal)
        if !waitUntil(timeout: grace, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The shared sample videos (`../shared/data/video`), when present.
    static func sharedVideo(_ name: String) -> String? {
        for base in [repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/video"),
                     URL(fileURLWithPath: "/work/shared/data/video")] {
            let path = base.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }
}

extension TestSupport {
    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func httpProbe(port: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
