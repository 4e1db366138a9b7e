@testable import Decode
import Foundation
import QRTCore
import Synchronization
import Testing
@testable import StreamDaemon

/// Queues, fairness, records and sinks, in process and without a model.
@Suite struct PipelineTests {
    static func frame(_ index: Int, size: Int = 4) -> DecodedFrame {
        DecodedFrame(index: index, pts: Double(index) / 25, sourceWidth: 160, sourceHeight: 120,
                     width: size, height: size, rgb: [UInt8](repeating: 0, count: size * size * 3), decodeLatency: 0.001)
    }

    @Test func dropOldestCountsEveryDrop() {
        let scheduler = FrameScheduler()
        let queue = StreamQueue(streamID: "cam", capacity: 3, policy: .dropOldest)
        scheduler.add(queue)
        for index in 0..<10 { #expect(scheduler.push(Self.frame(index), to: queue)) }
        #expect(scheduler.snapshot(queue) == (depth: 3, dropped: 7))
        let first = scheduler.next(timeout: 0)
        #expect(first?.item?.frame.index == 7)
        #expect(first?.droppedBefore == 7)
        #expect(scheduler.next(timeout: 0)?.droppedBefore == 0)
    }

    @Test func blockPolicyHoldsTheProducerBack() {
        let scheduler = FrameScheduler()
        let queue = StreamQueue(streamID: "file", capacity: 2, policy: .block)
        scheduler.add(queue)
        let pushed = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        Thread {
            for index in 0..<5 {
                scheduler.push(Self.frame(index), to: queue)
                pushed.add(1, ordering: .relaxed)
            }
            done.signal()
        }.start()
        TestSupport.waitUntil(timeout: 2) { pushed.load(ordering: .relaxed) == 2 }
        usleep(50_000)
        #expect(pushed.load(ordering: .relaxed) == 2, "the producer must wait for room")
        var seen: [Int] = []
        while seen.count < 5, let work = scheduler.next(timeout: 2) { seen.append(work.item!.frame.index) }
        #expect(seen == [0, 1, 2, 3, 4])
        #expect(done.wait(timeout: .now() + 2) == .success)
        #expect(scheduler.snapshot(queue).dropped == 0)
    }

    @Test func streamsAreServedRoundRobin() {
        let scheduler = FrameScheduler()
        let busy = StreamQueue(streamID: "busy", capacity: 100, policy: .block)
        let quiet = StreamQueue(streamID: "quiet", capacity: 100, policy: .block)
        let third = StreamQueue(streamID: "third", capacity: 100, policy: .block)
        for queue in [busy, quiet, third] { scheduler.add(queue) }
        for index in 0..<20 { scheduler.push(Self.frame(index), to: busy) }
        for index in 0..<3 { scheduler.push(Self.frame(index), to: quiet) }
        for index in 0..<2 { scheduler.push(Self.frame(index), to: third) }
        var order: [String] = []
        while let work = scheduler.next(timeout: 0) { order.append(work.queue.streamID) }
        #expect(Array(order.prefix(8)) == ["busy", "quiet", "third", "busy", "quiet", "third", "busy", "quiet"])
        #expect(order.count == 25)
    }

    @Test func endComesAfterTheLastFrame() {
        let scheduler = FrameScheduler()
        let queue = StreamQueue(streamID: "file", capacity: 4, policy: .block)
        scheduler.add(queue)
        scheduler.push(Self.frame(0), to: queue)
        scheduler.push(Self.frame(1), to: queue)
        scheduler.finish(queue)
        #expect(scheduler.next(timeout: 0)?.item?.frame.index == 0)
        #expect(scheduler.next(timeout: 0)?.item?.frame.index == 1)
        let end = scheduler.next(timeout: 0)
        #expect(end != nil && end?.item == nil)
        #expect(scheduler.next(timeout: 0) == nil)
    }

    @Test func closingReleasesABlockedProducerAndCountsDiscards() {
        let scheduler = FrameScheduler()
        let queue = StreamQueue(streamID: "file", capacity: 1, policy: .block)
        scheduler.add(queue)
        scheduler.push(Self.frame(0), to: queue)
        let returned = DispatchSemaphore(value: 0)
        let result = Atomic<Bool>(true)
        Thread {
            result.store(scheduler.push(Self.frame(1), to: queue), ordering: .relaxed)
            returned.signal()
        }.start()
        usleep(50_000)
        #expect(scheduler.remove(queue) == 1)
        #expect(returned.wait(timeout: .now() + 2) == .success)
        #expect(result.load(ordering: .relaxed) == false)
        #expect(scheduler.snapshot(queue).dropped == 1)

        let other = StreamQueue(streamID: "b", capacity: 1, policy: .block)
        scheduler.add(other)
        scheduler.push(Self.frame(0), to: other)
        scheduler.closeInputs()
        #expect(scheduler.push(Self.frame(1), to: other) == false)
        #expect(scheduler.next(timeout: 0)?.item?.frame.index == 0, "queued frames stay for the drain")
    }

    // MARK: - Records

    @Test func frameRecordFollowsTheSchema() throws {
        let record = FrameRecord(
            stream: "cam-1", frameIndex: 42, pts: 1.68, sourceWidth: 1280, sourceHeight: 720, modelID: "rtdetr-r18vd",
            inputSize: 640, quantizationMode: "fp32", quantizationEpoch: 0, decodeLatency: 0.0021234,
            queueLatency: 0.0005, inferenceLatency: 0.08312, dropped: 3,
            detections: [Detection(label: "person", categoryID: 1, score: 0.912345, box: (10.123, 20, 300.556, -4.2)),
                         Detection(label: "a \"quoted\"\\label", categoryID: 90, score: 1, box: (0, 0, 1, 1))])
        let line = String(decoding: RecordEncoder.encode(record, at: .now()), as: UTF8.self)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        #expect(SchemaValidator.detections.errors(object) == [])
        #expect(object["frame"] as? Int == 42 && object["dropped"] as? Int == 3 && object["stream"] as? String == "cam-1")
        let detections = object["detections"] as! [[String: Any]]
        #expect(detections[0]["score"] as? Double == 0.9123)
        #expect(detections[0]["box"] as? [Double] == [10.12, 20, 300.56, -4.2])
        #expect(detections[1]["label"] as? String == "a \"quoted\"\\label")
        let latency = object["latency_ms"] as! [String: Double]
        #expect(latency["decode"] == 2.123 && latency["inference"] == 83.12)
        #expect((object["time"] as! String).range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil)
    }

    @Test func lifecycleRecordsFollowTheSchema() throws {
        let info = StreamInfo(url: "rtsp://***@cam/s", kind: .rtsp, container: "rtsp", codec: "h264",
                              sourceWidth: 1920, sourceHeight: 1080, frameRate: nil, duration: nil)
        let events: [LifecycleEvent] = [.up(info), .down(reason: "Connection refused"), .reconnect(attempt: 2, delay: 1.25),
                                        .end(frames: 100), .stop(reason: "shutdown")]
        for event in events {
            let bytes = RecordEncoder.encode(stream: "cam", event: event, at: .now())
            let object = try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
            #expect(SchemaValidator.detections.errors(object) == [], "\(event.name)")
            #expect(object["event"] as? String == event.name)
        }
        // The schema insists on each event's own fields.
        var broken = try JSONSerialization.jsonObject(with: Data(RecordEncoder.encode(stream: "cam", event: .down(reason: "x"), at: .now()))) as! [String: Any]
        broken["reason"] = nil
        #expect(!SchemaValidator.detections.errors(broken).isEmpty)
        broken["reason"] = "x"
        broken["extra"] = 1
        #expect(!SchemaValidator.detections.errors(broken).isEmpty)
    }

    @Test func fixedDecimals() {
        var json = JSONLineWriter()
        json.beginArray()
        for value in [0.0, 1.5, -0.04, 2.0000001, 123.456789, 0.0005, -0.0004] { json.number(value, decimals: 3) }
        json.endArray()
        #expect(String(decoding: json.newline(), as: UTF8.self) == "[0,1.5,-0.04,2,123.457,0.001,0]\n")
    }

    // MARK: - Sinks

    @Test func fileSinkRotatesWithoutSplittingRecords() throws {
        let directory = try TestSupport.temporaryDirectory("rotate")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("d.jsonl").path
        let sink = try RotatingFileSink(FileSinkConfig(path: path, maxBytes: 4096, keep: 2))
        let line = Array((String(repeating: "x", count: 999) + "\n").utf8)  // 1000 bytes
        for _ in 0..<13 { try sink.write(line, stream: "a") }
        sink.close()
        let sizes = try [path, path + ".1", path + ".2"].map { try FileManager.default.attributesOfItem(atPath: $0)[.size] as! Int }
        #expect(sizes == [1000, 4000, 4000])
        #expect(!FileManager.default.fileExists(atPath: path + ".3"))
        #expect(sink.counters.records == 13 && sink.counters.rotations == 3)
    }

    @Test func descriptorSinkReportsAClosedReader() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0])
        signal(SIGPIPE, SIG_IGN)
        let sink = DescriptorSink(fd: fds[1], name: "pipe")
        #expect(throws: SinkFailure.self) { try sink.write(Array("{}\n".utf8), stream: "a") }
        do {
            try sink.write(Array("{}\n".utf8), stream: "a")
        } catch {
            guard case .closed = error else { Issue.record("expected closed, got \(error)"); return }
        }
        close(fds[1])
    }

    // MARK: - Metrics

    @Test func prometheusTextAndHealth() {
        let stats = StreamStats(id: "cam", kind: .rtsp)
        stats.update { $0.state = .up; $0.decode.framesDecoded = 10; $0.dropped = 2 }
        stats.frameProcessed(latency: 0.03, at: 100)
        stats.frameProcessed(latency: 0.2, at: 100.5)
        let snapshot = DaemonSnapshot(
            ready: true, stalled: false, modelID: "m", quantizationMode: "fp32", quantizationEpoch: 0, uptime: 3,
            streams: [.init(id: "cam", values: stats.read()), .init(id: "f", values: StreamStats(id: "f", kind: .file).read())],
            sinks: [.init(name: "stdout", counters: SinkCounters(records: 5))], recordsPending: 0, now: 101)
        let text = MetricsRenderer.prometheus(snapshot)
        for expected in [
            #"qrtdetr_frames_decoded_total{stream="cam"} 10"#, #"qrtdetr_frames_processed_total{stream="cam"} 2"#,
            #"qrtdetr_frames_dropped_total{stream="cam"} 2"#, #"qrtdetr_inference_seconds_bucket{stream="cam",le="0.05"} 1"#,
            #"qrtdetr_inference_seconds_bucket{stream="cam",le="0.25"} 2"#, #"qrtdetr_inference_seconds_bucket{stream="cam",le="+Inf"} 2"#,
            #"qrtdetr_stream_up{stream="cam"} 1"#, #"qrtdetr_stream_fps{stream="cam"} 1"#,
            #"qrtdetr_quantization_epoch{model="m",mode="fp32"} 0"#, #"qrtdetr_sink_records_total{sink="stdout"} 5"#,
            "# TYPE qrtdetr_inference_seconds histogram",
        ] {
            #expect(text.contains(expected + "\n"), "missing: \(expected)")
        }
        let (status, body) = MetricsRenderer.health(snapshot)
        #expect(status == 200)
        let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        #expect(object?["status"] as? String == "degraded")  // "f" has not started
        let streams = object?["streams"] as? [[String: Any]]
        #expect(streams?.first?["last_frame_age_s"] as? Double == 0.5)
        #expect(snapshot.statusLine == "cam up 1.0 fps, f starting")
    }
}
