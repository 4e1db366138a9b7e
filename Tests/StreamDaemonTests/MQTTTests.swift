import Foundation
import Testing

extension BlackBoxTests {
    /// The MQTT sink against a real `mosquitto` broker the test starts on a loopback port.
    @Suite struct MQTTTests {
        init() throws {
            try #require(TestSupport.binary != nil, "qrt-detr binary not found beside the tests")
            try #require(TestSupport.haveTinyModel, "tiny model fixture missing")
            try #require(TestSupport.mosquitto != nil, "mosquitto is not installed (Debian package mosquitto)")
            try #require(TestSupport.executable("mosquitto_sub") != nil, "mosquitto_sub is not installed (mosquitto-clients)")
        }

        /// A broker on `port` with its own config and log under `directory`.
        static func startBroker(port: Int, directory: URL) throws -> Process {
            let config = directory.appendingPathComponent("mosquitto-\(port).conf")
            try "listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\n".write(to: config, atomically: true, encoding: .utf8)
            let broker = try TestSupport.spawn(TestSupport.mosquitto!, ["-c", config.path],
                                               log: directory.appendingPathComponent("mosquitto-\(port).log"))
            let listening = TestSupport.waitUntil(timeout: 10) { (try? TestSupport.httpProbe(port: port)) == true }
            guard listening else { throw TestSupport.ToolError(description: "mosquitto did not listen on \(port)") }
            return broker
        }

        /// A subscriber on `topic` printing `topic payload` lines; returns once it demonstrably receives.
        static func startSubscriber(port: Int, topic: String, output: URL) throws -> Process {
            let subscriber = try TestSupport.spawn(TestSupport.executable("mosquitto_sub")!, [
                "-h", "127.0.0.1", "-p", String(port), "-t", topic, "-v", "-q", "1", "-i", "qrt-test-\(getpid())",
            ], log: output)
            let probeTopic = topic.replacingOccurrences(of: "#", with: "probe")
            let ready = TestSupport.waitUntil(timeout: 10, poll: 0.2) {
                _ = try? TestSupport.run(TestSupport.executable("mosquitto_pub")!, [
                    "-h", "127.0.0.1", "-p", String(port), "-t", probeTopic, "-m", "probe", "-q", "1",
                ], timeout: 5)
                return ((try? String(contentsOf: output, encoding: .utf8)) ?? "").contains("\(probeTopic) probe")
            }
            guard ready else { throw TestSupport.ToolError(description: "mosquitto_sub did not receive the probe") }
            return subscriber
        }

        static func messages(_ output: URL) -> [(topic: String, payload: String)] {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let space = line.firstIndex(of: " ") else { return nil }
                return (String(line[..<space]), String(line[line.index(after: space)...]))
            }.filter { $0.payload != "probe" }
        }

        /// Two files, stdout and MQTT sinks: every record on stdout arrives at the broker,
        /// parses, follows the schema, and sits on its stream's topic.
        @Test(.timeLimit(.minutes(3))) func everyRecordReachesTheBroker() throws {
            let directory = try TestSupport.temporaryDirectory("mqtt")
            defer { try? FileManager.default.removeItem(at: directory) }
            let port = TestSupport.freePort()
            let broker = try Self.startBroker(port: port, directory: directory)
            defer { TestSupport.stop(broker) }
            let output = directory.appendingPathComponent("sub.txt")
            let subscriber = try Self.startSubscriber(port: port, topic: "qrt/#", output: output)
            defer { TestSupport.stop(subscriber) }

            let config = TestSupport.config(
                streams: [["id": "clip", "url": TestSupport.decodeFixture("clip.mp4")],
                          ["id": "avi", "url": TestSupport.decodeFixture("clip-mpeg4.avi")]],
                sinks: [["type": "stdout"], ["type": "mqtt", "host": "127.0.0.1", "port": port, "topic": "qrt/{stream}", "qos": 1]])
            let daemon = try DaemonProcess(config: config)
            #expect(daemon.waitForExit(timeout: 90) == 0, "\(daemon.diagnostics)")
            let lines = daemon.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 50 + 20 + 4, "\(daemon.diagnostics)")
            #expect(TestSupport.waitUntil(timeout: 10) { Self.messages(output).count >= lines.count },
                    "\(Self.messages(output).count) of \(lines.count) arrived")
            let messages = Self.messages(output)
            #expect(messages.count == lines.count)
            #expect(Set(messages.map(\.payload)) == Set(lines), "the broker must carry exactly the stdout records")
            for message in messages {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: Any])
                #expect(SchemaValidator.detections.errors(object) == [])
                #expect(message.topic == "qrt/\(object["stream"] as! String)")
            }
            // Per stream, the broker saw the records in the order they were made.
            for id in ["clip", "avi"] {
                let frames = messages.filter { $0.topic == "qrt/\(id)" }.compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.payload.utf8)) as? [String: Any])?["frame"] as? Int }
                #expect(frames == frames.sorted())
            }
        }

        /// The broker is down at start: records beyond `max_queued` are dropped and counted,
        /// the daemon runs on; once a broker listens, the sink connects and records flow.
        @Test(.timeLimit(.minutes(3))) func brokerDownThenUp() throws {
            let directory = try TestSupport.temporaryDirectory("mqtt")
            defer { try? FileManager.default.removeItem(at: directory) }
            let port = TestSupport.freePort()
            let config = TestSupport.config(
                streams: [["id": "cam", "url": TestSupport.decodeFixture("clip.mp4"), "loop": true, "realtime": true]],
                sinks: [["type": "mqtt", "host": "127.0.0.1", "port": port, "topic": "qrt/{stream}", "qos": 1,
                         "max_queued": 5, "reconnect_max_delay_s": 1]],
                extra: ["metrics": ["port": 0]])
            let daemon = try DaemonProcess(config: config)
            let metricsPort = try #require(daemon.metricsPort(timeout: 30), "\(daemon.diagnostics)")
            func metric(_ name: String) -> Int {
                let body = (try? TestSupport.httpGet(port: metricsPort, path: "/metrics").body) ?? ""
                let line = body.split(separator: "\n").first { $0.hasPrefix(name) }
                return line?.split(separator: " ").last.flatMap { Int($0) } ?? -1
            }
            let sinkLabel = #"{sink="mqtt:127.0.0.1:\#(port)"}"#
            #expect(TestSupport.waitUntil(timeout: 20) { metric("qrtdetr_sink_dropped_total" + sinkLabel) > 0 }, "\(daemon.diagnostics)")
            #expect(metric("qrtdetr_sink_connected" + sinkLabel) == 0)
            #expect(daemon.process.isRunning)

            let broker = try Self.startBroker(port: port, directory: directory)
            defer { TestSupport.stop(broker) }
            let output = directory.appendingPathComponent("sub.txt")
            let subscriber = try Self.startSubscriber(port: port, topic: "qrt/#", output: output)
            defer { TestSupport.stop(subscriber) }
            #expect(TestSupport.waitUntil(timeout: 20) { metric("qrtdetr_sink_connected" + sinkLabel) == 1 }, "\(daemon.diagnostics)")
            #expect(TestSupport.waitUntil(timeout: 20) { Self.messages(output).count >= 10 }, "\(daemon.diagnostics)")
            for message in Self.messages(output) {
                #expect(message.topic == "qrt/cam")
                #expect((try? JSONSerialization.jsonObject(with: Data(message.payload.utf8))) != nil)
            }
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: 10) == 0, "\(daemon.diagnostics)")
            #expect(daemon.stderr.contains("connected"))
        }
    }
}
