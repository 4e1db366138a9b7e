import Decode
import Foundation
import QRTCore

/// Reads and validates the daemon's JSON config strictly: unknown fields, wrong types, values
/// out of range, duplicate stream ids and options that do not apply to a source kind are all
/// errors, each reported on one line that names the field (`streams[1].queue.capacity: …`),
/// and every error in the file is reported, not only the first. Duplicate keys are errors too.
///
/// Relative paths (model directory, file sources, file sink, password file) are resolved
/// against the directory holding the config file, so a config travels with its files.
///
/// Fields (defaults in brackets):
/// - `version` [1]: the only version this build reads.
/// - `model` [the bundled default]: `path` [the bundled default model, see `DefaultModel`; a
///   Hugging Face directory, run in FP32, or a `.qrt` artifact from `qrt-detr quantize`, run in
///   INT8], `id` [directory or artifact name], `input_size` [the size the model records
///   (`PreferredInputSize`), else 640; multiple of 32], `score_threshold` [0.5], `threads` [all cores].
/// - `streams` (required, at least one): `id` (required; 1-64 of `A-Za-z0-9_.-`, unique),
///   `url` (required; a path, `file://`, `rtsp://`, `rtsps://`, `http(s)://`, `/dev/videoN`,
///   `v4l2://`), `enabled` [true], `queue.capacity` [4], `queue.policy` [`drop-oldest` for live
///   sources, `block` for files], `realtime` and `loop` [false; files only], `rtsp_transport`
///   [`tcp`; rtsp only], `open_timeout_s` [10], `stall_timeout_s` [10],
///   `reconnect.initial_delay_s` [0.5], `reconnect.max_delay_s` [30], `decoder_threads` [1],
///   `format_options` [{}; string values passed to FFmpeg, e.g. V4L2 `video_size`],
///   `score_threshold` [the model's].
/// - `sinks` [`[{"type": "stdout"}]`]: `{"type": "stdout"}`;
///   `{"type": "file", "path", "max_bytes" [100 MiB], "keep" [5]}`;
///   `{"type": "mqtt", "host", "port" [1883], "topic" ["qrt-detr/{stream}"], "qos" [1],
///   "client_id" [qrt-detr-PID], "keepalive_s" [30], "max_queued" [1000], "username",
///   "password_file", "reconnect_max_delay_s" [30]}`.
/// - `metrics` [none]: `bind` [127.0.0.1; numeric address], `port` [9464; 0 picks a free one],
///   `enabled` [true].
/// - `state_directory` [`$STATE_DIRECTORY`], `log_level` [`info`], `shutdown_timeout_s` [5].
///
/// ```json
/// { "version": 1,
///   "model": { "path": "/var/lib/qrt-detr/model", "id": "rtdetr-r18vd", "input_size": 640,
///              "score_threshold": 0.5, "threads": 2 },
///   "streams": [ { "id": "front", "url": "rtsp://10.0.0.5/main", "rtsp_transport": "tcp",
///                  "queue": { "capacity": 4, "policy": "drop-oldest" }, "score_threshold": 0.4,
///                  "open_timeout_s": 10, "stall_timeout_s": 10,
///                  "reconnect": { "initial_delay_s": 0.5, "max_delay_s": 30 } },
///                { "id": "archive", "url": "/data/clip.mp4", "realtime": false, "loop": false } ],
///   "sinks": [ { "type": "stdout" },
///              { "type": "file", "path": "/var/lib/qrt-detr/detections.jsonl", "max_bytes": 104857600, "keep": 5 },
///              { "type": "mqtt", "host": "127.0.0.1", "port": 1883, "topic": "qrt-detr/{stream}", "qos": 1 } ],
///   "metrics": { "bind": "127.0.0.1", "port": 9464 },
///   "state_directory": "/var/lib/qrt-detr", "log_level": "info", "shutdown_timeout_s": 5 }
/// ```
enum ConfigParser {
    static let streamIDPattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

    /// Reads `path`; every problem (unreadable file, bad JSON, bad fields) comes back as a `ConfigError`.
    static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> DaemonConfig {
        let url = URL(fileURLWithPath: path)
        let data: Data
        switch readFile(path) {
        case let .success(bytes): data = bytes
        case let .failure(reason):
            throw ConfigError(file: path, issues: [ConfigIssue(field: "", message: "cannot read the file: \(reason)")])
        }
        return try parse(data, file: path, baseDirectory: url.deletingLastPathComponent().path, environment: environment)
    }

    static func parse(_ data: Data, file: String, baseDirectory: String,
                      environment: [String: String] = [:]) throws(ConfigError) -> DaemonConfig {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw ConfigError(file: file, issues: [ConfigIssue(field: "", message: "invalid JSON at \(error)")])
        }
        let issues = IssueList()
        let config = read(root, baseDirectory: baseDirectory, environment: environment, issues: issues)
        guard issues.issues.isEmpty, let config else { throw ConfigError(file: file, issues: issues.issues) }
        return config
    }

    private static func read(_ root: JSONValue, baseDirectory: String, environment: [String: String],
                             issues: IssueList) -> DaemonConfig? {
        guard var top = ObjectFields(root, path: "", issues: issues) else { return nil }
        defer { top.finish() }
        let resolve = { (path: String) in resolvePath(path, base: baseDirectory) }

        if let version = top.int("version", default: nil, range: Int.min...Int.max), version != DaemonConfig.currentVersion {
            issues.add("version", "must be \(DaemonConfig.currentVersion) (the only config version this build reads), got \(version)")
        }
        var model: ModelConfig?
        if top.has("model") {
            model = top.object("model") { fields in readModel(&fields, resolve: resolve, environment: environment) }
        } else if var defaults = ObjectFields(.object([]), path: "model", issues: issues) {
            model = readModel(&defaults, resolve: resolve, environment: environment)
        }

        var streams: [StreamConfig] = []
        if let elements = top.array("streams") {
            if elements.isEmpty { issues.add("streams", "must list at least one stream") }
            var seen: [String: Int] = [:]
            for (index, element) in elements.enumerated() {
                let path = "streams[\(index)]"
                guard var fields = ObjectFields(element, path: path, issues: issues) else { continue }
                let stream = readStream(&fields, resolve: resolve)
                fields.finish()
                guard let stream else { continue }
                if let first = seen[stream.id] {
                    issues.add("\(path).id", "duplicate stream id \"\(stream.id)\" (also streams[\(first)])")
                    continue
                }
                seen[stream.id] = index
                streams.append(stream)
            }
        } else if !top.has("streams") {
            issues.add("streams", "is required")
        }

        var sinks: [SinkConfig] = []
        if let elements = top.array("sinks") {
            if elements.isEmpty { issues.add("sinks", "must list at least one sink (e.g. {\"type\": \"stdout\"})") }
            for (index, element) in elements.enumerated() {
                let path = "sinks[\(index)]"
                guard var fields = ObjectFields(element, path: path, issues: issues) else { continue }
                let sink = readSink(&fields, resolve: resolve)
                fields.finish()
                guard let sink else { continue }
                if sink == .stdout, sinks.contains(.stdout) {
                    issues.add(path, "stdout is listed twice")
                    continue
                }
                if case let .file(file) = sink, sinks.contains(where: { if case let .file(other) = $0 { other.path == file.path } else { false } }) {
                    issues.add("\(path).path", "the file \(file.path) is already a sink")
                    continue
                }
                sinks.append(sink)
            }
        } else {
            sinks = [.stdout]
        }

        // Absent or null: no metrics server.
        let metrics = top.object("metrics") { fields in readMetrics(&fields) }

        var stateDirectory = top.string("state_directory").map(resolve)
        if stateDirectory == nil, let fromSystemd = environment["STATE_DIRECTORY"], !fromSystemd.isEmpty {
            // systemd's StateDirectory= may list several, separated by ':'; the first is ours.
            stateDirectory = String(fromSystemd.split(separator: ":").first ?? "")
        }
        let logLevel = top.choice("log_level", LogLevel.self, allowed: LogLevel.allCases) ?? .info
        let shutdownTimeout = top.double("shutdown_timeout_s", default: 5, range: 0.1...60) ?? 5

        guard let model else { return nil }
        return DaemonConfig(model: model, streams: streams, sinks: sinks, metrics: metrics,
                            stateDirectory: stateDirectory, logLevel: logLevel, shutdownTimeout: shutdownTimeout)
    }

    private static func readModel(_ fields: inout ObjectFields, resolve: (String) -> String,
                                  environment: [String: String]) -> ModelConfig? {
        var path = fields.string("path").map(resolve)
        let pathGiven = path != nil || fields.has("path")
        if !pathGiven {
            do {
                path = try DefaultModel.locate(environment: environment).path
            } catch {
                fields.issues.add(fields.field("path"), "\(error)")
            }
        }
        let id = fields.string("id")
        if let id, !matches(id, "^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}$") {
            fields.issues.add(fields.field("id"), "must be 1-128 characters of letters, digits and _ . : + - (got \"\(id)\")")
        }
        var recordedSize: Int?
        if let path, !fields.has("input_size") {
            do {
                recordedSize = try PreferredInputSize.of(URL(fileURLWithPath: path))
            } catch {
                fields.issues.add(fields.field("path"), "\(error)")
            }
        }
        let inputSize = fields.int("input_size", default: recordedSize ?? 640, range: 32...2048) ?? 640
        if inputSize % 32 != 0 {
            fields.issues.add(fields.field("input_size"), "must be a multiple of 32 (the model's largest stride), got \(inputSize)")
        }
        let score = fields.double("score_threshold", default: 0.5, range: 0...1) ?? 0.5
        let threads = fields.int("threads", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
            ?? ProcessInfo.processInfo.activeProcessorCount
        guard let path else { return nil }
        var name = URL(fileURLWithPath: path).lastPathComponent
        if name.hasSuffix(".qrt") { name = String(name.dropLast(4)) }
        return ModelConfig(path: path, id: id ?? (name.isEmpty ? "model" : name), inputSize: inputSize,
                           scoreThreshold: Float(score), threads: threads)
    }

    private static func readStream(_ fields: inout ObjectFields, resolve: (String) -> String) -> StreamConfig? {
        let id = fields.string("id", required: true)
        if let id, !matches(id, streamIDPattern) {
            fields.issues.add(fields.field("id"), "must be 1-64 characters of letters, digits and _ . - starting with a letter or digit (got \"\(id)\")")
        }
        var url = fields.string("url", required: true)
        var kind: SourceKind?
        if let text = url {
            do {
                let locator = try SourceLocator(text)
                kind = locator.kind
                if locator.kind == .file {
                    // A plain absolute path from here on (resolved against the config's directory).
                    var path = text.trimmingCharacters(in: .whitespaces)
                    if path.lowercased().hasPrefix("file://") { path = String(path.dropFirst("file://".count)) }
                    url = resolve(path)
                }
            } catch {
                fields.issues.add(fields.field("url"), error.reason)
            }
        }
        let isFile = kind == .file
        let live = kind.map { $0 != .file } ?? true
        let enabled = fields.bool("enabled", default: true)

        var capacity = 4
        var policy: StreamConfig.QueuePolicy = live ? .dropOldest : .block
        _ = fields.object("queue") { queue -> Void? in
            capacity = queue.int("capacity", default: 4, range: 1...1024) ?? 4
            policy = queue.choice("policy", StreamConfig.QueuePolicy.self, allowed: [.dropOldest, .block]) ?? policy
            return ()
        }

        func fileOnly(_ name: String, _ fields: inout ObjectFields) -> Bool {
            let value = fields.bool(name, default: false)
            if value, kind != nil, !isFile {
                fields.issues.add(fields.field(name), "applies to file sources only (this url is \(kind!.rawValue))")
            }
            return value && isFile
        }
        let realtime = fileOnly("realtime", &fields)
        let loop = fileOnly("loop", &fields)

        if fields.has("rtsp_transport"), let kind, kind != .rtsp {
            fields.issues.add(fields.field("rtsp_transport"), "applies to rtsp sources only (this url is \(kind.rawValue))")
        }
        let transport = fields.choice("rtsp_transport", StreamConfig.RTSPTransport.self, allowed: [.tcp, .udp]) ?? .tcp
        let openTimeout = fields.double("open_timeout_s", default: 10, range: 0.1...600) ?? 10
        let stallTimeout = fields.double("stall_timeout_s", default: 10, range: 0.1...3600) ?? 10
        var initialDelay = 0.5, maxDelay = 30.0
        _ = fields.object("reconnect") { reconnect -> Void? in
            initialDelay = reconnect.double("initial_delay_s", default: 0.5, range: 0.01...3600) ?? 0.5
            maxDelay = reconnect.double("max_delay_s", default: 30, range: 0.01...3600) ?? 30
            if maxDelay < initialDelay {
                reconnect.issues.add(reconnect.field("max_delay_s"), "must not be below initial_delay_s (\(ObjectFields.format(initialDelay)))")
            }
            return ()
        }
        let decoderThreads = fields.int("decoder_threads", default: 1, range: 0...64) ?? 1
        var formatOptions: [String: String] = [:]
        _ = fields.object("format_options") { options -> Void? in
            for key in options.keys {
                if let value = options.string(key, nonEmpty: false) { formatOptions[key] = value }
            }
            return ()
        }
        let score = fields.double("score_threshold", default: nil, range: 0...1).map(Float.init)

        guard let id, let url, let kind else { return nil }
        return StreamConfig(id: id, url: url, kind: kind, enabled: enabled, queueCapacity: capacity, queuePolicy: policy,
                            realtime: realtime, loop: loop, rtspTransport: transport, openTimeout: openTimeout,
                            stallTimeout: stallTimeout, reconnectInitialDelay: initialDelay,
                            reconnectMaxDelay: maxDelay, decoderThreads: decoderThreads,
                            formatOptions: formatOptions, scoreThreshold: score)
    }

    private enum SinkType: String { case stdout, file, mqtt }

    private static func readSink(_ fields: inout ObjectFields, resolve: (String) -> String) -> SinkConfig? {
        guard let type = fields.choice("type", SinkType.self, allowed: [.stdout, .file, .mqtt]) else {
            if !fields.has("type") { fields.issues.add(fields.field("type"), "is required (\"stdout\", \"file\" or \"mqtt\")") }
            // Mark the other members as read: their names depend on the type we do not know.
            for name in ["path", "max_bytes", "keep", "host", "port", "topic", "qos", "client_id", "keepalive_s",
                         "max_queued", "username", "password_file", "reconnect_max_delay_s"] { _ = fields.value(name) }
            return nil
        }
        switch type {
        case .stdout:
            return .stdout
        case .file:
            let path = fields.string("path", required: true).map(resolve)
            let maxBytes = fields.int("max_bytes", default: 100 << 20, range: 4096...(1 << 50)) ?? (100 << 20)
            let keep = fields.int("keep", default: 5, range: 0...1000) ?? 5
            guard let path else { return nil }
            return .file(FileSinkConfig(path: path, maxBytes: maxBytes, keep: keep))
        case .mqtt:
            let host = fields.string("host", required: true)
            let port = fields.int("port", default: 1883, range: 1...65535) ?? 1883
            let topic = fields.string("topic", default: "qrt-detr/{stream}")
            if topic.contains("+") || topic.contains("#") || topic.contains("\0") {
                fields.issues.add(fields.field("topic"), "must not contain the wildcards + or # (got \"\(topic)\")")
            }
            let qos = fields.int("qos", default: 1, range: 0...2) ?? 1
            let clientID = fields.string("client_id")
            if let clientID, clientID.utf8.count > 23 {
                // MQTT 3.1.1 brokers need only accept up to 23 bytes.
                fields.issues.add(fields.field("client_id"), "must be at most 23 bytes, got \(clientID.utf8.count)")
            }
            let keepalive = fields.int("keepalive_s", default: 30, range: 5...3600) ?? 30
            let maxQueued = fields.int("max_queued", default: 1000, range: 1...1_000_000) ?? 1000
            let username = fields.string("username")
            let passwordFile = fields.string("password_file").map(resolve)
            if passwordFile != nil, username == nil {
                fields.issues.add(fields.field("password_file"), "needs username")
            }
            let reconnectMax = fields.int("reconnect_max_delay_s", default: 30, range: 1...3600) ?? 30
            guard let host else { return nil }
            return .mqtt(MQTTSinkConfig(host: host, port: port, topic: topic, qos: qos, clientID: clientID,
                                        keepalive: keepalive, maxQueued: maxQueued, username: username,
                                        passwordFile: passwordFile, reconnectMaxDelay: reconnectMax))
        }
    }

    private static func readMetrics(_ fields: inout ObjectFields) -> MetricsConfig? {
        let enabled = fields.bool("enabled", default: true)
        let bind = fields.string("bind", default: "127.0.0.1")
        if !SocketAddress.isNumeric(bind) {
            fields.issues.add(fields.field("bind"), "must be a numeric IPv4 or IPv6 address (e.g. 127.0.0.1), got \"\(bind)\"")
        }
        // 0 lets the kernel pick a free port (logged at start): for tests.
        let port = fields.int("port", default: 9464, range: 0...65535) ?? 9464
        return enabled ? MetricsConfig(bind: bind, port: port) : nil
    }

    /// The file's bytes, or strerror's reason (POSIX calls, so errno is the real one).
    static func readFile(_ path: String) -> Result<Data, ReadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadFailure(errno)) }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(errno))
            }
            if count == 0 { return .success(data) }
            guard data.count + count <= 16 << 20 else { return .failure(ReadFailure(message: "larger than 16 MiB")) }
            data.append(contentsOf: buffer[..<count])
        }
    }

    struct ReadFailure: Error, CustomStringConvertible {
        let description: String
        init(_ code: Int32) { description = String(cString: strerror(code)) }
        init(message: String) { description = message }
    }

    static func resolvePath(_ path: String, base: String) -> String {
        if path.hasPrefix("/") || base.isEmpty { return path }
        return URL(fileURLWithPath: base).appendingPathComponent(path).standardizedFileURL.path
    }

    private static func matches(_ text: String, _ pattern: String) -> Bool {
        text.range(of: pattern, options: .regularExpression) != nil
    }
}

enum SocketAddress {
    static func isNumeric(_ address: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, address, &v4) == 1 || inet_pton(AF_INET6, address, &v6) == 1
    }
}
