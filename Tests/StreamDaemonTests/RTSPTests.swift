import Foundation
import Testing

extension BlackBoxTests {
    /// A real RTSP server (GStreamer's, tools/rtsp/rtsp_server.py) killed and restarted mid-stream.
    @Suite struct RTSPTests {
        static let python = "/usr/bin/python3"
        static let server = TestSupport.repoRoot.appendingPathComponent("tools/rtsp/rtsp_server.py").path

        /// Whether Debian's GStreamer RTSP server is importable (scripts/install-deps.sh installs it).
        static var available: Bool {
            guard FileManager.default.isExecutableFile(atPath: python) else { return false }
            let probe = try? TestSupport.run(python, ["-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"], timeout: 20)
            return probe?.status == 0
        }

        init() throws {
            try #require(TestSupport.binary != nil, "qrt-detr binary not found beside the tests")
            try #require(TestSupport.haveTinyModel, "tiny model fixture missing")
            try #require(Self.available, "GStreamer RTSP server missing (gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0, python3-gi)")
        }

        static func start(port: Int, log: URL) throws -> Process {
            let process = try TestSupport.spawn(python, [server, "--port", String(port)], log: log)
            guard TestSupport.waitUntil(timeout: 15, { (try? String(contentsOf: log, encoding: .utf8))?.contains("ready rtsp://") == true }) else {
                TestSupport.stop(process)
                throw TestSupport.ToolError(description: "RTSP server did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            return process
        }

        @Test(.timeLimit(.minutes(3))) func rtspServerKilledAndRestarted() throws {
            let directory = try TestSupport.temporaryDirectory("rtsp")
            defer { try? FileManager.default.removeItem(at: directory) }
            let port = TestSupport.freePort()
            var server: Process? = try Self.start(port: port, log: directory.appendingPathComponent("server-1.log"))
            defer { TestSupport.stop(server) }
            let config = TestSupport.config(streams: [
                ["id": "cam", "url": "rtsp://127.0.0.1:\(port)/test", "rtsp_transport": "tcp", "stall_timeout_s": 2,
                 "open_timeout_s": 3, "reconnect": ["initial_delay_s": 0.1, "max_delay_s": 0.5]],
                ["id": "file", "url": TestSupport.decodeFixture("clip.mp4"), "loop": true, "realtime": true],
            ])
            let daemon = try DaemonProcess(config: config)
            func count(_ stream: String) -> Int { daemon.records(type: "frame", stream: stream).count }

            #expect(daemon.waitForRecords(timeout: 30) { _ in count("cam") >= 10 }, "\(daemon.diagnostics)")
            TestSupport.stop(server)  // SIGKILL: the TCP connection drops mid-stream
            server = nil
            #expect(daemon.waitForRecords(timeout: 20) { records in
                records.contains { $0["stream"] as? String == "cam" && $0["event"] as? String == "reconnect" } }, "\(daemon.diagnostics)")
            let fileAtGap = count("file")
            usleep(1_000_000)
            #expect(count("file") > fileAtGap, "the file stream keeps going while the camera is away")

            server = try Self.start(port: port, log: directory.appendingPathComponent("server-2.log"))
            #expect(daemon.waitForRecords(timeout: 30) { records in
                records.filter { $0["stream"] as? String == "cam" && $0["event"] as? String == "up" }.count >= 2 }, "\(daemon.diagnostics)")
            let before = count("cam")
            #expect(daemon.waitForRecords(timeout: 20) { _ in count("cam") >= before + 10 }, "\(daemon.diagnostics)")
            let indices = daemon.records(type: "frame", stream: "cam").map { $0["frame"] as! Int }
            #expect(indices == indices.sorted() && Set(indices).count == indices.count)
            let warnings = daemon.stderr.split(separator: "\n").filter { $0.contains("warning: stream cam down:") }
            #expect(warnings.count >= 1 && warnings.count <= 2, "\(warnings)")

            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: 10) == 0, "\(daemon.diagnostics)")
        }
    }
}
