import Foundation
import Testing
@testable import StreamDaemon

/// Strict config validation: every mistake is reported, on one line, naming the field.
@Suite struct ConfigTests {
    private func parse(_ json: String) throws(ConfigError) -> DaemonConfig {
        try ConfigParser.parse(Data(json.utf8), file: "test.json", baseDirectory: "/etc/qrt-detr")
    }

    private func issues(_ json: String) -> [String] {
        do {
            _ = try parse(json)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    private let model = #""model": {"path": "/m"}"#

    /// Without a model section the daemon runs the default model at the size it records.
    @Test func aMissingModelMeansTheDefaultModel() throws {
        let config = try ConfigParser.parse(Data(#"{ "streams": [{"id": "a", "url": "/a"}] }"#.utf8), file: "test.json",
                                            baseDirectory: "/etc/qrt-detr",
                                            environment: [DefaultModel.environmentVariable: "/srv/models/traffic"])
        #expect(config.model.path == "/srv/models/traffic")
        #expect(config.model.id == "traffic")
        #expect(config.model.inputSize == 640)
    }

    @Test func minimalConfigTakesDefaults() throws {
        let config = try parse(#"{ \#(model), "streams": [{"id": "cam", "url": "rtsp://10.0.0.1/s"}, {"id": "f", "url": "clips/a.mp4"}] }"#)
        #expect(config.model.inputSize == 640)
        #expect(config.model.id == "m")
        #expect(config.model.scoreThreshold == 0.5)
        #expect(config.sinks == [.stdout])
        #expect(config.metrics == nil)
        #expect(config.logLevel == .info)
        #expect(config.shutdownTimeout == 5)
        let camera = config.streams[0], file = config.streams[1]
        #expect(camera.kind == .rtsp && camera.queuePolicy == .dropOldest && camera.rtspTransport == .tcp)
        #expect(file.kind == .file && file.queuePolicy == .block && !file.realtime && !file.loop)
        // Relative paths resolve against the config file's directory.
        #expect(file.url == "/etc/qrt-detr/clips/a.mp4")
    }

    @Test func exampleConfigIsValid() throws {
        let path = TestSupport.repoRoot.appendingPathComponent("systemd/qrt-detr.json").path
        let config = try ConfigParser.load(path: path, environment: [:])
        #expect(config.streams.count >= 2)
        #expect(config.metrics == MetricsConfig(bind: "127.0.0.1", port: 9464))
        #expect(config.sinks.contains { if case .mqtt = $0 { true } else { false } })
    }

    @Test func stateDirectoryComesFromSystemdWhenUnset() throws {
        let json = #"{ \#(model), "streams": [{"id": "a", "url": "/a.mp4"}] }"#
        let config = try ConfigParser.parse(Data(json.utf8), file: "t", baseDirectory: "/",
                                            environment: ["STATE_DIRECTORY": "/var/lib/qrt-detr:/var/lib/other"])
        #expect(config.stateDirectory == "/var/lib/qrt-detr")
    }

    @Test(arguments: [
        (#"{ "model": {"path": "/m", "input_size": 100}, "streams": [{"id": "a", "url": "/a"}] }"#,
         "model.input_size: must be a multiple of 32"),
        (#"{ "model": {"path": "/m", "treshold": 0.5}, "streams": [{"id": "a", "url": "/a"}] }"#,
         "model.treshold: unknown field"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "ftp://x/y"}] }"#,
         "streams[0].url: unsupported URL scheme 'ftp'"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a", "queue": {"capacity": 0}}] }"#,
         "streams[0].queue.capacity: must be in 1...1024, got 0"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a", "queue": {"policy": "drop-newest"}}] }"#,
         #"streams[0].queue.policy: must be one of "drop-oldest", "block", got "drop-newest""#),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "rtsp://h/s", "loop": true}] }"#,
         "streams[0].loop: applies to file sources only (this url is rtsp)"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a.mp4", "rtsp_transport": "udp"}] }"#,
         "streams[0].rtsp_transport: applies to rtsp sources only"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a"}, {"id": "a", "url": "/b"}] }"#,
         #"streams[1].id: duplicate stream id "a" (also streams[0])"#),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a b", "url": "/a"}] }"#,
         "streams[0].id: must be 1-64 characters"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a", "enabled": "yes"}] }"#,
         "streams[0].enabled: must be true or false, got a string"),
        (#"{ "model": {"path": "/m"}, "streams": [] }"#, "streams: must list at least one stream"),
        (#"{ "model": {"path": "/m"} }"#, "streams: is required"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a"}], "sinks": [{"type": "kafka"}] }"#,
         #"sinks[0].type: must be one of "stdout", "file", "mqtt", got "kafka""#),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a"}], "sinks": [{"type": "file"}] }"#,
         "sinks[0].path: is required"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a"}], "sinks": [{"type": "mqtt", "host": "h", "qos": 3}] }"#,
         "sinks[0].qos: must be in 0...2, got 3"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a"}], "sinks": [{"type": "mqtt", "host": "h", "topic": "a/#"}] }"#,
         "sinks[0].topic: must not contain the wildcards"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a"}], "metrics": {"bind": "localhost"}}"#,
         "metrics.bind: must be a numeric IPv4 or IPv6 address"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a"}], "log_level": "verbose"}"#,
         #"log_level: must be one of "error", "warning", "info", "debug", got "verbose""#),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a"}], "version": 2}"#,
         "version: must be 1"),
        (#"{ "model": {"path": "/m", "threads": 1.5}, "streams": [{"id": "a", "url": "/a"}]}"#,
         "model.threads: must be a whole number, got 1.5"),
        (#"{ "model": {"path": "/m"}, "streams": [{"id": "a", "url": "/a", "reconnect": {"initial_delay_s": 5, "max_delay_s": 1}}]}"#,
         "streams[0].reconnect.max_delay_s: must not be below initial_delay_s (5)"),
        (#"{ "model": {"path": "/m"}, "model": {"path": "/n"}, "streams": []}"#,
         #"invalid JSON at line 1, column 28: duplicate key "model""#),
        (#"{ "model": {"path": "/m"}, "streams": [ }"#, "invalid JSON at line 1"),
    ])
    func rejects(json: String, expected: String) {
        let found = issues(json)
        #expect(found.contains { $0.hasPrefix(expected) || $0.contains(expected) }, "expected '\(expected)' in \(found)")
        #expect(found.allSatisfy { !$0.contains("\n") })
    }

    @Test func reportsEveryProblemAtOnce() {
        let found = issues(#"""
            { "model": {"path": "/m", "input_size": 33, "colour": 1},
              "streams": [{"id": "a", "url": "/a", "queue": {"capacity": -1}}, {"url": "/b"}],
              "metrics": {"port": 70000} }
            """#)
        #expect(found.count == 5, "\(found)")
        for field in ["model.input_size", "model.colour", "streams[0].queue.capacity", "streams[1].id", "metrics.port"] {
            #expect(found.contains { $0.hasPrefix(field + ":") }, "no issue for \(field) in \(found)")
        }
    }

    @Test func streamOptionsReachTheConfig() throws {
        let config = try parse(#"""
            { "model": {"path": "/m", "input_size": 320, "threads": 3, "score_threshold": 0.25, "id": "r18"},
              "streams": [{"id": "cam", "url": "rtsp://u:p@10.0.0.1/s", "rtsp_transport": "udp",
                           "queue": {"capacity": 3}, "stall_timeout_s": 2.5, "score_threshold": 0.7,
                           "reconnect": {"initial_delay_s": 1, "max_delay_s": 4}, "decoder_threads": 2},
                          {"id": "dev", "url": "/dev/video3", "format_options": {"video_size": "640x480"}},
                          {"id": "loop", "url": "/x.mp4", "loop": true, "realtime": true, "queue": {"policy": "drop-oldest"}}],
              "sinks": [{"type": "file", "path": "out/d.jsonl", "max_bytes": 8192, "keep": 2},
                        {"type": "mqtt", "host": "127.0.0.1", "port": 1884, "qos": 0, "max_queued": 10}],
              "metrics": {"bind": "::1", "port": 9000}, "log_level": "warning", "shutdown_timeout_s": 2 }
            """#)
        #expect(config.model == ModelConfig(path: "/m", id: "r18", inputSize: 320, scoreThreshold: 0.25, threads: 3))
        let cam = config.streams[0]
        #expect(cam.rtspTransport == .udp && cam.queueCapacity == 3 && cam.stallTimeout == 2.5)
        #expect(cam.scoreThreshold == 0.7 && cam.reconnectInitialDelay == 1 && cam.reconnectMaxDelay == 4 && cam.decoderThreads == 2)
        #expect(config.streams[1].kind == .v4l2 && config.streams[1].formatOptions == ["video_size": "640x480"])
        #expect(config.streams[2].loop && config.streams[2].realtime && config.streams[2].queuePolicy == .dropOldest)
        #expect(config.sinks[0] == .file(FileSinkConfig(path: "/etc/qrt-detr/out/d.jsonl", maxBytes: 8192, keep: 2)))
        guard case let .mqtt(mqtt) = config.sinks[1] else { Issue.record("no mqtt sink"); return }
        #expect(mqtt.port == 1884 && mqtt.qos == 0 && mqtt.maxQueued == 10 && mqtt.topic(forStream: "cam") == "qrt-detr/cam")
        #expect(config.metrics == MetricsConfig(bind: "::1", port: 9000))
        #expect(config.logLevel == .warning && config.shutdownTimeout == 2)
    }

    @Test func jsonParserKeepsIntegersAndRejectsJunk() throws {
        let value = try JSONValue.parse(Data(#"{"a": [1, -2.5e1, true, null, "\u00e9\n"]}"#.utf8))
        #expect(value == .object([("a", .array([.integer(1), .number(-25), .bool(true), .null, .string("é\n")]))]))
        for junk in ["", "{", "[1,]", "01", "\"a", "{\"a\":1} x", "nul"] {
            #expect(throws: JSONValue.SyntaxError.self) { try JSONValue.parse(Data(junk.utf8)) }
        }
    }

    // MARK: - The command

    @Test func checkConfigCommand() throws {
        guard let binary = TestSupport.binary else {
            Issue.record("qrt-detr binary not found beside the tests")
            return
        }
        let directory = try TestSupport.temporaryDirectory("config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.json")
        try #"{ "model": {"path": "m"}, "streams": [{"id": "a", "url": "rtsp://127.0.0.1:1/x"}] }"#.write(to: good, atomically: true, encoding: .utf8)
        var result = try TestSupport.run(binary, ["check-config", good.path], timeout: 30)
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("\(good.path): ok"))

        let bad = directory.appendingPathComponent("bad.json")
        try #"{ "model": {"path": "m", "input_size": 50}, "streams": [{"id": "a", "url": "gopher://x"}], "sink": [] }"#
            .write(to: bad, atomically: true, encoding: .utf8)
        result = try TestSupport.run(binary, ["check-config", bad.path], timeout: 30)
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.allSatisfy { $0.hasPrefix("\(bad.path): ") })
        #expect(lines.contains { $0.contains("model.input_size:") })
        #expect(lines.contains { $0.contains("streams[0].url:") })
        #expect(lines.contains { $0.contains("sink: unknown field") })

        result = try TestSupport.run(binary, ["check-config", directory.appendingPathComponent("missing.json").path], timeout: 30)
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot read the file: No such file or directory"))

        result = try TestSupport.run(binary, ["check-config"], timeout: 30)
        #expect(result.status == 64)
    }
}
