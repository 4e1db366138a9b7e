import Foundation
import Synchronization
import Testing

extension BlackBoxTests {
    /// Faults with real servers and files on loopback: the daemon reports each once with its
    /// reason, marks the stream down, keeps the others running, and never crashes.
    @Suite struct FaultTests {
        init() throws {
            try #require(TestSupport.binary != nil, "qrt-detr binary not found beside the tests")
            try #require(TestSupport.haveTinyModel, "tiny model fixture missing")
            try #require(TestSupport.ffmpeg != nil, "ffmpeg is not installed")
        }

        private static var fastReconnect: [String: Any] { ["initial_delay_s": 0.1, "max_delay_s": 0.3] }

        /// An HTTP stream from `ffmpeg -listen 1`, killed mid-stream and started again: the
        /// stream goes down and comes back, frame indices continue without repeats, the gap is
        /// counted, and a file stream beside it never stops.
        @Test(.timeLimit(.minutes(3))) func httpServerKilledAndRestarted() throws {
            let port = TestSupport.freePort()
            let url = "http://127.0.0.1:\(port)/live.ts"
            let clip = TestSupport.decodeFixture("clip.mp4")
            let logs = try TestSupport.temporaryDirectory("http")
            defer { try? FileManager.default.removeItem(at: logs) }
            func startServer(_ n: Int) throws -> Process {
                try TestSupport.spawn(TestSupport.ffmpeg!, [
                    "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-an", "-c:v", "copy",
                    "-f", "mpegts", "-listen", "1", url,
                ], log: logs.appendingPathComponent("ffmpeg-\(n).log"))
            }
            var server: Process? = try startServer(1)
            defer { TestSupport.stop(server) }
            let config = TestSupport.config(
                streams: [["id": "net", "url": url, "reconnect": Self.fastReconnect, "stall_timeout_s": 2, "open_timeout_s": 3],
                          ["id": "file", "url": clip, "loop": true, "realtime": true]],
                extra: ["metrics": ["port": 0]])
            let daemon = try DaemonProcess(config: config)
            func frames(_ stream: String) -> [[String: Any]] { daemon.records(type: "frame", stream: stream) }

            #expect(daemon.waitForRecords(timeout: 30) { records in
                records.filter { $0["type"] as? String == "frame" && $0["stream"] as? String == "net" }.count >= 10 }, "\(daemon.diagnostics)")
            TestSupport.stop(server)  // SIGKILL mid-stream
            server = nil
            #expect(daemon.waitForRecords(timeout: 20) { records in
                records.contains { $0["stream"] as? String == "net" && $0["event"] as? String == "reconnect" } }, "\(daemon.diagnostics)")
            let fileFramesAtGap = frames("file").count
            usleep(1_000_000)
            #expect(frames("file").count > fileFramesAtGap, "the file stream must keep going while net is down")

            server = try startServer(2)
            #expect(daemon.waitForRecords(timeout: 30) { records in
                records.filter { $0["stream"] as? String == "net" && $0["event"] as? String == "up" }.count >= 2 }, "\(daemon.diagnostics)")
            let framesBeforeMore = frames("net").count
            #expect(daemon.waitForRecords(timeout: 20) { records in
                records.filter { $0["type"] as? String == "frame" && $0["stream"] as? String == "net" }.count >= framesBeforeMore + 10 })

            let indices = frames("net").map { $0["frame"] as! Int }
            #expect(indices == indices.sorted() && Set(indices).count == indices.count, "frame indices must never repeat")
            let down = daemon.records(type: "stream", stream: "net", event: "down")
            #expect(!down.isEmpty)
            #expect(down.allSatisfy { ($0["reason"] as? String ?? "").count > 3 })

            let port2 = try #require(daemon.metricsPort(timeout: 1))
            let metrics = try TestSupport.httpGet(port: port2, path: "/metrics").body
            let reconnects = metrics.split(separator: "\n").first { $0.hasPrefix(#"qrtdetr_reconnects_total{stream="net"}"#) }
            #expect((reconnects?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= 1, "\(metrics)")

            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: 10) == 0, "\(daemon.diagnostics)")
        }

        /// Bad sources beside a good one: truncated and corrupt files, a file without video,
        /// a closed port, a missing device. Each is logged once with its reason; the good file
        /// is read to its end; the daemon stays up until told to stop.
        @Test(.timeLimit(.minutes(3))) func badSourcesAreReportedOnceAndIsolated() throws {
            let directory = try TestSupport.temporaryDirectory("bad")
            defer { try? FileManager.default.removeItem(at: directory) }
            // Garbage: random bytes under a video name.
            let corrupt = directory.appendingPathComponent("corrupt.mp4")
            var generator = SystemRandomNumberGenerator()
            try Data((0..<20000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: corrupt)
            let closedPort = TestSupport.freePort()
            let good = TestSupport.decodeFixture("clip.mp4")
            let config = TestSupport.config(streams: [
                ["id": "good", "url": good],
                ["id": "truncated", "url": TestSupport.decodeFixture("truncated.mp4")],
                ["id": "corrupt", "url": corrupt.path],
                ["id": "novideo", "url": TestSupport.decodeFixture("audio-only.m4a")],
                ["id": "missing", "url": directory.appendingPathComponent("nothing-here.mp4").path],
                ["id": "unreachable", "url": "http://127.0.0.1:\(closedPort)/stream.ts", "reconnect": Self.fastReconnect],
                ["id": "nodevice", "url": "/dev/video99", "reconnect": Self.fastReconnect],
            ])
            let daemon = try DaemonProcess(config: config)
            // Live sources retry: wait until both have failed several times.
            #expect(daemon.waitForRecords(timeout: 40) { records in
                ["unreachable", "nodevice"].allSatisfy { id in
                    records.filter { $0["stream"] as? String == id && $0["event"] as? String == "reconnect" }.count >= 3 }
                    && records.contains { $0["stream"] as? String == "good" && $0["event"] as? String == "end" }
            }, "\(daemon.diagnostics)")
            #expect(daemon.process.isRunning, "the daemon must not stop while live streams retry")

            let records = daemon.records()
            #expect(daemon.records(type: "frame", stream: "good").count == (try TestSupport.countFrames(good)))
            for id in ["truncated", "corrupt", "novideo", "missing"] {
                let down = daemon.records(type: "stream", stream: id, event: "down")
                #expect(down.count == 1, "\(id): \(down)")
                let reason = down.first?["reason"] as? String ?? ""
                #expect(reason.count > 3, "\(id): reason '\(reason)'")
                #expect(daemon.records(type: "stream", stream: id, event: "end").count == 1, "\(id) ends: files do not retry")
            }
            #expect((daemon.records(type: "stream", stream: "novideo", event: "down").first?["reason"] as? String)?.contains("no video") == true)
            #expect((daemon.records(type: "stream", stream: "missing", event: "down").first?["reason"] as? String)?.contains("No such file") == true)
            #expect((daemon.records(type: "stream", stream: "unreachable", event: "down").first?["reason"] as? String)?.contains("refused") == true)
            // Logged once at warning level, however often the live ones retry.
            let stderr = daemon.stderr
            for id in ["truncated", "corrupt", "novideo", "missing", "unreachable", "nodevice"] {
                let warnings = stderr.split(separator: "\n").filter { $0.contains("warning: stream \(id) down:") }
                #expect(warnings.count == 1, "\(id): \(warnings)")
            }
            for record in records { #expect(SchemaValidator.detections.errors(record) == []) }

            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: 10) == 0, "\(daemon.diagnostics)")
            #expect(!daemon.stderr.contains("Fatal error"))
        }

        /// stdout closed by its reader: a clean exit, said once on stderr.
        @Test(.timeLimit(.minutes(2))) func stdoutClosedByTheReader() throws {
            var options = DaemonProcess.Options()
            options.stdoutToPipe = true
            let config = TestSupport.config(streams: [["id": "a", "url": TestSupport.decodeFixture("clip.mp4"), "loop": true]],
                                            inputSize: 32)
            let daemon = try DaemonProcess(config: config, options: options)
            let reader = daemon.stdoutPipe!.fileHandleForReading
            var received = Data()
            let deadline = Date(timeIntervalSinceNow: 30)
            while received.filter({ $0 == 0x0A }).count < 5, Date() < deadline {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                received += chunk
            }
            #expect(received.filter { $0 == 0x0A }.count >= 5, "\(daemon.diagnostics)")
            try reader.close()
            let status = daemon.waitForExit(timeout: 10)
            #expect(status == 0, "\(daemon.diagnostics)")
            #expect(daemon.stderr.contains("stdout was closed by its reader"), "\(daemon.diagnostics)")
        }
    }
}
