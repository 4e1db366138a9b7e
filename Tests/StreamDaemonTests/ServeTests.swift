import Foundation
import Synchronization
import Testing

/// Black-box tests of `qrt-detr serve`: the real binary, the tiny model, real files, a real
/// notify socket, real HTTP. One at a time (the machine is small and they measure time).
@Suite(.serialized) struct BlackBoxTests {}

extension BlackBoxTests {
    @Suite struct ServeTests {
        init() throws {
            try #require(TestSupport.binary != nil, "qrt-detr binary not found beside the tests")
            try #require(TestSupport.haveTinyModel, "tiny model fixture missing")
        }

        /// Two files as two streams: one schema-valid record per decoded frame (ffprobe's count),
        /// indices without gaps, `up` first and `end` last, then a clean exit.
        @Test(.timeLimit(.minutes(4))) func twoFilesGiveOneRecordPerFrame() throws {
            let files = [("vtest", TestSupport.sharedVideo("vtest.avi") ?? TestSupport.decodeFixture("clip-mpeg4.avi")),
                         ("cars", TestSupport.sharedVideo("car-detection.mp4") ?? TestSupport.decodeFixture("clip.mp4"))]
            let config = TestSupport.config(streams: files.map { ["id": $0.0, "url": $0.1] }, extra: ["log_level": "info"])
            let daemon = try DaemonProcess(config: config)
            let status = daemon.waitForExit(timeout: 200)
            #expect(status == 0, "\(daemon.diagnostics)")
            let records = daemon.records()
            for record in records {
                let errors = SchemaValidator.detections.errors(record)
                #expect(errors.isEmpty, "\(errors) in \(record)")
                if !errors.isEmpty { break }
            }
            for (id, path) in files {
                let expected = try TestSupport.countFrames(path)
                let mine = records.filter { $0["stream"] as? String == id }
                let frames = mine.filter { $0["type"] as? String == "frame" }
                #expect(frames.count == expected, "\(id): \(frames.count) records, ffprobe counts \(expected)")
                #expect(frames.map { $0["frame"] as! Int } == Array(0..<frames.count), "\(id): frame indices")
                #expect(frames.allSatisfy { $0["dropped"] as? Int == 0 })
                #expect(mine.first?["event"] as? String == "up")
                #expect(mine.last?["event"] as? String == "end")
                #expect(mine.last?["frames"] as? Int == expected)
            }
            // Both streams progress while both run. Strict round-robin between non-empty queues is
            // PipelineTests.streamsAreServedRoundRobin; here a stream's queue may run dry when its
            // decoder loses the CPU to the detector, so only a long one-sided stretch is a failure.
            let order = records.filter { $0["type"] as? String == "frame" }.map { $0["stream"] as! String }
            let shorter = files.map { id in order.filter { $0 == id.0 }.count }.min()!
            let head = Array(order.prefix(2 * shorter - 2))
            var longestRun = 0, run = 0
            for (index, id) in head.enumerated() {
                run = index > 0 && head[index - 1] == id ? run + 1 : 1
                longestRun = max(longestRun, run)
            }
            #expect(longestRun <= 64, "one stream ran \(longestRun) frames in a row while the other waited")
        }

        /// READY after load, STATUS, WATCHDOG while frames flow, SIGHUP → RELOADING → READY with
        /// only the changed stream restarted, a bad config changes nothing, SIGTERM → STOPPING
        /// and an exit within the drain limit.
        @Test(.timeLimit(.minutes(3))) func systemdNotifyReloadAndStop() throws {
            let clip = TestSupport.decodeFixture("clip.mp4")
            func config(bThreshold: Double, extraStream: Bool = false) -> String {
                var streams: [[String: Any]] = [
                    ["id": "a", "url": clip, "loop": true, "realtime": true],
                    ["id": "b", "url": clip, "loop": true, "realtime": true, "score_threshold": bThreshold],
                ]
                if extraStream { streams.append(["id": "c", "url": clip, "loop": true, "realtime": true]) }
                return TestSupport.config(streams: streams)
            }
            var options = DaemonProcess.Options()
            options.notifySocket = true
            options.watchdogSeconds = 2
            let daemon = try DaemonProcess(config: config(bThreshold: 0.3), options: options)
            let notify = try #require(daemon.notify)

            #expect(notify.waitFor("READY=1", timeout: 30), "\(daemon.diagnostics)")
            #expect(notify.assignments.contains { $0.hasPrefix("STATUS=ready") })
            #expect(notify.waitFor("WATCHDOG=1", count: 2, timeout: 10), "\(notify.assignments)")
            #expect(TestSupport.waitUntil(timeout: 5) { notify.assignments.contains { $0.hasPrefix("STATUS=") && $0.contains("a up") } },
                    "\(notify.assignments)")
            #expect(daemon.waitForRecords(timeout: 20) { $0.filter { $0["type"] as? String == "frame" && $0["stream"] as? String == "b" }.count >= 5 })

            // Reload: b changes, c is new, a stays as it is.
            try config(bThreshold: 0.6, extraStream: true).write(to: daemon.configURL, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(notify.waitFor("RELOADING=1", timeout: 10))
            #expect(notify.waitFor("READY=1", count: 2, timeout: 20), "\(daemon.diagnostics)")
            #expect(notify.assignments.contains { $0.hasPrefix("MONOTONIC_USEC=") })
            #expect(daemon.waitForRecords(timeout: 20) { $0.contains { $0["stream"] as? String == "c" && $0["type"] as? String == "frame" } },
                    "\(daemon.diagnostics)")
            #expect(daemon.waitForRecords(timeout: 20) { records in
                records.filter { $0["stream"] as? String == "b" && $0["event"] as? String == "up" }.count == 2 })
            let stops = daemon.records(type: "stream", event: "stop")
            #expect(stops.map { $0["stream"] as! String } == ["b"])
            #expect(stops.first?["reason"] as? String == "changed by reload")
            #expect(daemon.records(type: "stream", stream: "a", event: "up").count == 1, "a must not restart")
            #expect(daemon.stderr.contains("reloaded: streams ~b +c"))

            // A broken config (no streams; the model section falls back to the default model) is refused and nothing changes.
            try "{ \"model\": {} }".write(to: daemon.configURL, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(notify.waitFor("RELOADING=1", count: 2, timeout: 10))
            #expect(notify.waitFor("READY=1", count: 3, timeout: 10))
            #expect(TestSupport.waitUntil(timeout: 5) { daemon.stderr.contains("reload failed; still running the previous configuration") })
            #expect(daemon.stderr.contains("streams: is required"))
            let before = daemon.records(type: "frame", stream: "a").count
            #expect(daemon.waitForRecords(timeout: 10) { $0.filter { $0["type"] as? String == "frame" && $0["stream"] as? String == "a" }.count > before + 3 })

            // Stop: STOPPING, a stop record per stream, exit 0 well within the 5 s drain limit.
            let stopAt = Date()
            daemon.signal(SIGTERM)
            let status = daemon.waitForExit(timeout: 10)
            let took = Date().timeIntervalSince(stopAt)
            #expect(status == 0, "\(daemon.diagnostics)")
            #expect(took < 5.5, "took \(took) s to stop")
            #expect(notify.waitFor("STOPPING=1", timeout: 1))
            let finalStops = daemon.records(type: "stream", event: "stop").filter { $0["reason"] as? String == "shutdown" }
            #expect(Set(finalStops.map { $0["stream"] as! String }) == ["a", "b", "c"])
            for record in daemon.records() { #expect(SchemaValidator.detections.errors(record) == []) }
        }

        /// A reload that changes the model's input size restarts every stream (frames are decoded
        /// at the model's size); records after it carry the new size.
        @Test(.timeLimit(.minutes(2))) func reloadWithANewInputSizeRestartsEveryStream() throws {
            let clip = TestSupport.decodeFixture("clip.mp4")
            let streams: [[String: Any]] = [["id": "a", "url": clip, "loop": true, "realtime": true],
                                            ["id": "b", "url": clip, "loop": true, "realtime": true]]
            var options = DaemonProcess.Options()
            options.notifySocket = true
            let daemon = try DaemonProcess(config: TestSupport.config(streams: streams, inputSize: 64), options: options)
            let notify = try #require(daemon.notify)
            #expect(notify.waitFor("READY=1", timeout: 30), "\(daemon.diagnostics)")
            #expect(daemon.waitForRecords(timeout: 20) { $0.filter { $0["type"] as? String == "frame" }.count >= 6 })
            try TestSupport.config(streams: streams, inputSize: 32).write(to: daemon.configURL, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(notify.waitFor("READY=1", count: 2, timeout: 20), "\(daemon.diagnostics)")
            #expect(daemon.waitForRecords(timeout: 20) { records in
                ["a", "b"].allSatisfy { id in records.contains {
                    $0["stream"] as? String == id && (($0["model"] as? [String: Any])?["input_size"] as? Int) == 32 } } },
                "\(daemon.diagnostics)")
            let stops = daemon.records(type: "stream", event: "stop")
            #expect(Set(stops.map { $0["stream"] as! String }) == ["a", "b"])
            #expect(daemon.stderr.contains("reloaded: streams ~a ~b"))
            // No frame decoded for the old size reaches the new model: sizes only go 64 → 32 per stream.
            for id in ["a", "b"] {
                let sizes = daemon.records(type: "frame", stream: id).map { ($0["model"] as! [String: Any])["input_size"] as! Int }
                #expect(sizes == sizes.sorted(by: >), "\(id): \(sizes)")
            }
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: 10) == 0, "\(daemon.diagnostics)")
        }

        /// A reader that stops reading stalls the pipeline end to end: the watchdog stops, and
        /// comes back once the reader catches up.
        @Test(.timeLimit(.minutes(3))) func watchdogOnlyWhileFramesProgress() throws {
            var options = DaemonProcess.Options()
            options.notifySocket = true
            options.watchdogSeconds = 1
            options.stdoutToPipe = true
            let config = TestSupport.config(streams: [["id": "a", "url": TestSupport.decodeFixture("clip.mp4"), "loop": true]],
                                            inputSize: 32)
            let daemon = try DaemonProcess(config: config, options: options)
            let notify = try #require(daemon.notify)
            #expect(notify.waitFor("READY=1", timeout: 30), "\(daemon.diagnostics)")
            // Nobody reads stdout: the pipe fills, then the record queue, then the detector waits.
            #expect(TestSupport.waitUntil(timeout: 60) { daemon.stderr.contains("withholding the watchdog") }, "\(daemon.diagnostics)")
            let pings = notify.count("WATCHDOG=1")
            usleep(2_500_000)
            #expect(notify.count("WATCHDOG=1") == pings, "pinged while stalled")
            #expect(notify.assignments.contains { $0.hasPrefix("STATUS=STALLED") })
            // Read again: frames move, the watchdog resumes.
            let reader = daemon.stdoutPipe!.fileHandleForReading
            let draining = Atomic<Bool>(true)
            let readerThread = Thread {
                while draining.load(ordering: .relaxed) {
                    if reader.availableData.isEmpty { break }
                }
            }
            readerThread.start()
            #expect(notify.waitFor("WATCHDOG=1", count: pings + 2, timeout: 15), "\(daemon.diagnostics)")
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: 10) == 0)
            draining.store(false, ordering: .relaxed)
        }

        /// /metrics and /healthz on loopback while streams run.
        @Test(.timeLimit(.minutes(2))) func metricsAndHealth() throws {
            let config = TestSupport.config(
                streams: [["id": "cam", "url": TestSupport.decodeFixture("clip.mp4"), "loop": true, "realtime": true],
                          ["id": "off", "url": "rtsp://127.0.0.1:\(TestSupport.freePort())/none", "reconnect": ["initial_delay_s": 0.1, "max_delay_s": 0.2]]],
                extra: ["metrics": ["bind": "127.0.0.1", "port": 0]])
            let daemon = try DaemonProcess(config: config)
            let port = try #require(daemon.metricsPort(timeout: 30), "\(daemon.diagnostics)")
            #expect(daemon.waitForRecords(timeout: 20) { $0.filter { $0["type"] as? String == "frame" }.count >= 10 })
            let metrics = try TestSupport.httpGet(port: port, path: "/metrics")
            #expect(metrics.status == 200)
            for expected in [#"qrtdetr_stream_up{stream="cam"} 1"#, #"qrtdetr_stream_up{stream="off"} 0"#,
                             #"qrtdetr_inference_seconds_bucket{stream="cam",le="+Inf"} "#, #"qrtdetr_frames_processed_total{stream="cam"} "#,
                             #"qrtdetr_quantization_epoch{model="tiny",mode="fp32"} 0"#, "qrtdetr_up 1"] {
                #expect(metrics.body.contains(expected), "missing \(expected)")
            }
            let processed = metrics.body.split(separator: "\n").first { $0.hasPrefix(#"qrtdetr_frames_processed_total{stream="cam"}"#) }
            #expect((processed?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= 10)
            let reconnects = metrics.body.split(separator: "\n").first { $0.hasPrefix(#"qrtdetr_reconnects_total{stream="off"}"#) }
            #expect(reconnects != nil)

            let health = try TestSupport.httpGet(port: port, path: "/healthz")
            #expect(health.status == 200)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any])
            #expect(object["status"] as? String == "degraded")
            let streams = try #require(object["streams"] as? [[String: Any]])
            #expect(streams.map { $0["id"] as! String } == ["cam", "off"])
            #expect(streams[0]["state"] as? String == "up")
            #expect((streams[0]["last_frame_age_s"] as? Double ?? 99) < 2)
            #expect(["down", "reconnecting"].contains(streams[1]["state"] as? String ?? ""))
            #expect(try TestSupport.httpGet(port: port, path: "/nope").status == 404)

            daemon.signal(SIGINT)
            #expect(daemon.waitForExit(timeout: 10) == 0)
        }

        /// A `.qrt` artifact from `qrt-detr quantize` runs in INT8, and the records say so.
        @Test(.timeLimit(.minutes(2))) func int8ArtifactRecordsSayInt8() throws {
            let directory = try TestSupport.temporaryDirectory("int8")
            defer { try? FileManager.default.removeItem(at: directory) }
            let calib = directory.appendingPathComponent("calib")
            try FileManager.default.createDirectory(at: calib, withIntermediateDirectories: true)
            let clip = TestSupport.decodeFixture("clip-mpeg4.avi")
            try #require(try TestSupport.run(TestSupport.ffmpeg!, ["-v", "error", "-y", "-i", clip, "-frames:v", "3",
                                                                   calib.appendingPathComponent("f%02d.png").path]).status == 0)
            let artifact = directory.appendingPathComponent("tiny-w8a8.qrt").path
            let quantize = try TestSupport.run(TestSupport.binary!, [
                "quantize", "--model", TestSupport.tinyModel, "--calib", calib.path, "-o", artifact,
                "--images", "3", "--method", "minmax", "--size", "64", "--threads", "1"], timeout: 90)
            try #require(quantize.status == 0, "\(quantize.stderr)")

            let config = TestSupport.config(streams: [["id": "avi", "url": clip]])
                .replacingOccurrences(of: "\"path\" : \"\(TestSupport.tinyModel)\"", with: "\"path\" : \"\(artifact)\"")
            #expect(config.contains(artifact))
            let daemon = try DaemonProcess(config: config)
            #expect(daemon.waitForExit(timeout: 60) == 0, "\(daemon.diagnostics)")
            let frames = daemon.records(type: "frame")
            #expect(frames.count == (try TestSupport.countFrames(clip)))
            for frame in frames {
                #expect(SchemaValidator.detections.errors(frame) == [])
                #expect((frame["quantization"] as? [String: Any])?["mode"] as? String == "int8")
            }
            #expect(daemon.stderr.contains("int8)"))
        }

        /// A model that cannot load is an error naming the field, before READY.
        @Test(.timeLimit(.minutes(1))) func missingModelFailsBeforeReady() throws {
            var options = DaemonProcess.Options()
            options.notifySocket = true
            let config = TestSupport.config(streams: [["id": "a", "url": TestSupport.decodeFixture("clip.mp4")]])
                .replacingOccurrences(of: TestSupport.tinyModel, with: "/nonexistent/model")
            let daemon = try DaemonProcess(config: config, options: options)
            #expect(daemon.waitForExit(timeout: 20) == 1)
            #expect(daemon.stderr.contains("model.path: cannot load the model at /nonexistent/model"), "\(daemon.diagnostics)")
            #expect(daemon.notify!.count("READY=1") == 0)
        }
    }
}
