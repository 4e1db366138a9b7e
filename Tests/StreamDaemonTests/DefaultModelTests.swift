import Foundation
import Testing

/// The README's promise, end to end through the built binary: with no `--model`, `qrt-detr detect`
/// runs the bundled trained model and finds the person and the car of the bundled clip, and
/// `--draw` writes pictures of them.
@Suite struct DefaultModelTests {
    static let model = TestSupport.repoRoot.appendingPathComponent("models/rtdetr-r18vd-traffic")
    static let clip = TestSupport.repoRoot.appendingPathComponent("samples/traffic-clip.mp4").path
    static var runnable: Bool {
        TestSupport.binary != nil && TestSupport.ffmpeg != nil
            && FileManager.default.fileExists(atPath: model.appendingPathComponent("model.safetensors").path)
    }

    @Test(.enabled(if: runnable), .timeLimit(.minutes(3)))
    func findsThePersonAndTheCarOfTheBundledClip() throws {
        let directory = try TestSupport.temporaryDirectory("default-model")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Frame 10 shows a person in a room; frame 45 a car in a parking lot, seen from above.
        var frames: [String] = []
        for (name, index) in [("person", 10), ("car", 45)] {
            let path = directory.appendingPathComponent("\(name).png").path
            let extracted = try TestSupport.run(TestSupport.ffmpeg!, [
                "-nostdin", "-v", "error", "-i", Self.clip, "-vf", "select=eq(n\\,\(index))", "-frames:v", "1", path,
            ])
            try #require(extracted.status == 0, "ffmpeg: \(extracted.stderr)")
            frames.append(path)
        }
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "QRT_DETR_MODEL")
        let drawing = directory.appendingPathComponent("drawn.png").path
        let result = try TestSupport.run(TestSupport.binary!, ["detect", "--threads", "2", "--draw", drawing] + frames,
                                         timeout: 170, environment: environment)
        try #require(result.status == 0, "detect failed: \(result.stderr)")
        let records = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        try #require(records.count == 2, "\(result.stdout)")
        func labels(_ record: [String: Any]) -> [String] {
            ((record["detections"] as? [[String: Any]]) ?? []).compactMap { $0["label"] as? String }
        }
        #expect(labels(records[0]).contains("person"), "\(records[0])")
        #expect(labels(records[1]).contains("car"), "\(records[1])")
        for index in 1...2 {
            let drawn = directory.appendingPathComponent("drawn-\(index).png").path
            #expect(FileManager.default.fileExists(atPath: drawn), "missing \(drawn)")
        }
    }
}

/// `detect` on a video: one record per decoded frame, in order, with its index and time; errors
/// (a truncated file, --draw on a video) are one line and a failing status.
@Suite struct DetectVideoTests {
    static var runnable: Bool { TestSupport.binary != nil && TestSupport.haveTinyModel && TestSupport.ffprobe != nil }

    @Test(.enabled(if: runnable), .timeLimit(.minutes(2)))
    func everyFrameOnceInOrder() throws {
        let clip = TestSupport.decodeFixture("clip.mp4")
        let result = try TestSupport.run(TestSupport.binary!, ["detect", "--model", TestSupport.tinyModel, "--size", "64",
                                                               "--score", "0", clip], timeout: 100)
        try #require(result.status == 0, "\(result.stderr)")
        let records = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(records.count == (try TestSupport.countFrames(clip)))
        #expect(records.map { $0["frame"] as? Int } == (0..<records.count).map { $0 })
        let times = records.compactMap { $0["pts"] as? Double }
        #expect(times.count == records.count && zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
        #expect(records.allSatisfy { $0["path"] as? String == clip && ($0["width"] as? Int ?? 0) > 0 })
    }

    /// An image first makes the model's kernels on the main thread; the video's frames must then run
    /// there too (they once ran on the decode thread and crashed in oneDNN's per-thread scratch memory).
    @Test(.enabled(if: runnable && TestSupport.ffmpeg != nil), .timeLimit(.minutes(2)))
    func imagesAndVideosMixInOneCall() throws {
        let directory = try TestSupport.temporaryDirectory("detect-mix")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clip = TestSupport.decodeFixture("clip.mp4")
        let image = directory.appendingPathComponent("first.png").path
        let extracted = try TestSupport.run(TestSupport.ffmpeg!, ["-nostdin", "-v", "error", "-i", clip, "-frames:v", "1", image])
        try #require(extracted.status == 0, "\(extracted.stderr)")
        for threads in ["1", "2"] {
            let result = try TestSupport.run(TestSupport.binary!, ["detect", "--model", TestSupport.tinyModel, "--size", "64",
                                                                   "--threads", threads, image, clip, image], timeout: 100)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.split(separator: "\n").count == (try TestSupport.countFrames(clip)) + 2)
        }
    }

    @Test(.enabled(if: runnable))
    func drawingAVideoIsAUsageError() throws {
        let result = try TestSupport.run(TestSupport.binary!, ["detect", "--model", TestSupport.tinyModel, "--draw", "/tmp/x.png",
                                                               TestSupport.decodeFixture("clip.mp4")])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--draw takes images only"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
