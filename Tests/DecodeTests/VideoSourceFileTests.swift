import Decode
import Foundation
import Testing

@Suite("VideoSource on files", .serialized)
struct VideoSourceFileTests {
    @Test("every frame of the H.264 clip, once, in order, with pts", .enabled(if: TestSupport.haveCLI))
    func h264Clip() throws {
        let path = TestSupport.fixture("clip.mp4")
        let expected = try TestSupport.countFrames(path)
        #expect(expected == 50)
        let (recorder, source, finished) = try VideoSource.record(path, .init(width: 64, height: 48))
        #expect(finished)
        let frames = recorder.frames
        #expect(frames.count == expected)
        #expect(frames.map(\.index) == Array(0..<frames.count))
        #expect(frames.allSatisfy { $0.sourceWidth == 160 && $0.sourceHeight == 120 && $0.width == 64 && $0.height == 48 })
        #expect(frames.allSatisfy { $0.latency >= 0 && $0.latency < 5 })
        let pts = frames.compactMap(\.pts)
        #expect(pts.count == frames.count)
        #expect(zip(pts, pts.dropFirst()).allSatisfy { abs($1 - $0 - 0.04) < 1e-6 }, "\(pts.prefix(5))")

        let info = try #require(recorder.ups.first)
        #expect(recorder.ups.count == 1)
        #expect(info.kind == .file && info.codec == "h264" && info.sourceWidth == 160 && info.sourceHeight == 120)
        #expect(info.frameRate == 25)
        #expect(abs((info.duration ?? 0) - 2) < 0.1)
        #expect(recorder.downs.isEmpty)
        #expect(recorder.endedCount == 1 && recorder.lastIsEnded)
        if case .up = recorder.records.first {} else { Issue.record("first event is not up") }
        #expect(source.counters == { var c = StreamCounters(); c.framesDecoded = expected; return c }())
        #expect(!source.isRunning)
    }

    @Test("frames equal the ffmpeg CLI's, byte for byte", .enabled(if: TestSupport.haveCLI))
    func pixelsMatchCLI() throws {
        let path = TestSupport.fixture("clip.mp4")
        let (width, height) = (64, 48)
        let raw = try TestSupport.run(TestSupport.ffmpeg!, [
            "-v", "error", "-i", path, "-map", "0:v", "-fps_mode", "passthrough",
            "-vf", "scale=\(width):\(height):flags=bilinear", "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
        ])
        let frameBytes = width * height * 3
        let (recorder, _, _) = try VideoSource.record(path, .init(width: width, height: height), keepPixels: true)
        let frames = recorder.frames
        #expect(frames.count * frameBytes == raw.count)
        for (i, frame) in frames.enumerated() where (i + 1) * frameBytes <= raw.count {
            let expected = [UInt8](raw[(i * frameBytes)..<((i + 1) * frameBytes)])
            #expect(frame.rgb == expected, "frame \(i)")
        }
    }

    @Test("MPEG-4 part 2 in AVI: frame count equals ffprobe", .enabled(if: TestSupport.haveCLI))
    func mpeg4AVI() throws {
        let path = TestSupport.fixture("clip-mpeg4.avi")
        let (recorder, _, finished) = try VideoSource.record(path, .init(width: 32, height: 32))
        #expect(finished)
        #expect(recorder.frameCount == (try TestSupport.countFrames(path)))
        #expect(recorder.ups.first?.codec == "mpeg4")
        #expect(recorder.lastIsEnded)
    }

    @Test("vtest.avi decodes to 795 frames")
    func vtest() throws {
        let path = TestSupport.shared("data/video/vtest.avi")
        try #require(FileManager.default.fileExists(atPath: path), "needs ../shared")
        let (recorder, source, finished) = try VideoSource.record(path, .init(width: 96, height: 72), timeout: 120)
        #expect(finished)
        #expect(recorder.frameCount == 795)
        #expect(source.counters.framesDecoded == 795)
        #expect(source.counters.decodeErrors == 0)
        let frames = recorder.frames
        #expect(frames.first.map { $0.sourceWidth == 768 && $0.sourceHeight == 576 } == true)
        #expect(frames.map(\.index) == Array(0..<795))
        #expect(recorder.lastIsEnded)
    }

    @Test("a truncated file ends or goes down without a crash")
    func truncated() throws {
        let (recorder, _, finished) = try VideoSource.record(TestSupport.fixture("truncated.mp4"), .init(width: 32, height: 24))
        #expect(finished)
        #expect(recorder.frameCount < 50)
        #expect(recorder.frames.map(\.index) == Array(0..<recorder.frameCount))
        #expect(recorder.downs == ["truncated: the last video packet is incomplete"])
        #expect(recorder.lastIsEnded)
        #expect(recorder.reconnectAttempts.isEmpty)
    }

    @Test("an audio-only file goes down with 'no video stream'")
    func audioOnly() throws {
        let (recorder, _, finished) = try VideoSource.record(TestSupport.fixture("audio-only.m4a"), .init(width: 32, height: 24))
        #expect(finished)
        #expect(recorder.downs == ["no video stream"])
        #expect(recorder.ups.isEmpty && recorder.frameCount == 0)
        #expect(recorder.lastIsEnded)
    }

    @Test("missing and non-media files go down with a one-line reason")
    func unreadable() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let garbage = directory.appendingPathComponent("garbage.bin")
        try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }).write(to: garbage)
        for path in [directory.appendingPathComponent("missing.mp4").path, garbage.path, "file://" + directory.path + "/nothing.mkv"] {
            let (recorder, _, finished) = try VideoSource.record(path, .init(width: 32, height: 24))
            #expect(finished)
            #expect(recorder.downs.count == 1, "\(path): \(recorder.downs)")
            #expect(recorder.downs.allSatisfy { $0.hasPrefix("cannot open: ") && !$0.contains("\n") }, "\(recorder.downs)")
            #expect(recorder.lastIsEnded && recorder.frameCount == 0)
        }
    }

    @Test("realtime delivers at the file's own rate", .timeLimit(.minutes(1)))
    func realtime() throws {
        var options = StreamOptions(width: 32, height: 24)
        options.realtime = true
        let started = Date()
        let (recorder, _, finished) = try VideoSource.record(TestSupport.fixture("clip.mp4"), options)
        let elapsed = Date().timeIntervalSince(started)
        #expect(finished)
        #expect(recorder.frameCount == 50)
        // 50 frames at 25 fps: the last leaves 1.96 s after the first.
        let frames = recorder.frames
        let span = frames.last!.wallTime - frames.first!.wallTime
        #expect(span > 1.85 && span < 3.0, "span \(span)")
        #expect(elapsed < 5)
    }

    @Test("loop replays the file with ever-increasing indices until stopped")
    func loop() throws {
        var options = StreamOptions(width: 32, height: 24)
        options.loop = true
        let source = try VideoSource(url: TestSupport.fixture("clip.mp4"), options: options)
        let recorder = EventRecorder()
        source.start(recorder.handler)
        let reached = EventRecorder.waitUntil(timeout: 30) { recorder.frameCount >= 130 }
        let started = Date()
        #expect(source.stop(timeout: 5))
        #expect(Date().timeIntervalSince(started) < 1)
        #expect(reached)
        let frames = recorder.frames
        #expect(frames.map(\.index) == Array(0..<frames.count))
        // pts restart with each pass: 0, 0.04, ... 1.96, 0, 0.04, ...
        let pts = frames.compactMap(\.pts)
        #expect(pts.count == frames.count)
        #expect(pts[50] == pts[0] && pts[100] == pts[0] && pts[49] > pts[48])
        #expect(recorder.endedCount == 0 && recorder.downs.isEmpty && recorder.ups.count == 1)
        let counted = source.counters.framesDecoded
        Thread.sleep(forTimeInterval: 0.1)
        #expect(source.counters.framesDecoded == counted, "frames after stop")
    }

    @Test("stop() during realtime pacing returns promptly and ends the events")
    func stopWhilePacing() throws {
        var options = StreamOptions(width: 32, height: 24)
        options.realtime = true
        let source = try VideoSource(url: TestSupport.fixture("clip.mp4"), options: options)
        let recorder = EventRecorder()
        source.start(recorder.handler)
        #expect(EventRecorder.waitUntil(timeout: 10) { recorder.frameCount >= 5 })
        let started = Date()
        #expect(source.stop(timeout: 5))
        #expect(Date().timeIntervalSince(started) < 0.5)
        let count = recorder.records.count
        Thread.sleep(forTimeInterval: 0.2)
        #expect(recorder.records.count == count)
        #expect(recorder.frameCount < 50 && recorder.endedCount == 0)
    }

    @Test("a handler that blocks holds the decoder back without a stall")
    func blockingHandler() throws {
        var options = StreamOptions(width: 32, height: 24)
        options.stallTimeout = 0.2
        let source = try VideoSource(url: TestSupport.fixture("clip.mp4"), options: options)
        let recorder = EventRecorder()
        let inner = recorder.handler
        source.start { event in
            if case .frame(let frame) = event, frame.index % 10 == 0 { Thread.sleep(forTimeInterval: 0.3) }
            inner(event)
        }
        #expect(source.wait(timeout: 30))
        #expect(recorder.frameCount == 50)
        #expect(recorder.downs.isEmpty)
        #expect(recorder.lastIsEnded)
    }
}

@Suite("VideoSource configuration")
struct VideoSourceConfigurationTests {
    @Test("URLs map to kinds, whitelists and masked forms")
    func locators() throws {
        let cases: [(String, SourceKind, String)] = [
            ("/data/a.mp4", .file, "file:/data/a.mp4"),
            ("relative/clip.mkv", .file, "file:relative/clip.mkv"),
            ("cam:1.mkv", .file, "file:cam:1.mkv"),
            ("file:///data/a.mp4", .file, "file:/data/a.mp4"),
            ("rtsp://cam.local:554/stream1", .rtsp, "rtsp://cam.local:554/stream1"),
            ("RTSPS://cam/s", .rtsp, "RTSPS://cam/s"),
            ("http://127.0.0.1:8080/live.ts", .http, "http://127.0.0.1:8080/live.ts"),
            ("https://example.org/hls/index.m3u8", .http, "https://example.org/hls/index.m3u8"),
            ("/dev/video0", .v4l2, "/dev/video0"),
            ("v4l2:///dev/video2", .v4l2, "/dev/video2"),
        ]
        for (url, kind, ffmpegURL) in cases {
            let locator = try SourceLocator(url)
            #expect(locator.kind == kind, "\(url)")
            #expect(locator.ffmpegURL == ffmpegURL, "\(url)")
        }
        #expect(SourceKind.file.protocolWhitelist == "file")
        #expect(SourceKind.rtsp.protocolWhitelist == "rtsp,rtsps,tcp,udp,tls,rtp,srtp")
        #expect(SourceKind.http.protocolWhitelist.hasPrefix("http,https,tcp,tls"))
        #expect(try SourceLocator("rtsp://admin:s3cret@10.0.0.5/live").redacted == "rtsp://***@10.0.0.5/live")
        #expect(try SourceLocator("http://host/path@x").redacted == "http://host/path@x")
    }

    @Test("unsupported schemes and bad options are configuration errors naming the field")
    func configurationErrors() {
        #expect(throws: SourceConfigurationError.self) { try VideoSource(url: "udp://0.0.0.0:1234", options: .init(width: 64, height: 64)) }
        #expect(throws: SourceConfigurationError.self) { try VideoSource(url: "", options: .init(width: 64, height: 64)) }
        do {
            _ = try VideoSource(url: "rtmp://user:pw@host/app", options: .init(width: 64, height: 64))
        } catch {
            #expect(error.description == "rtmp://***@host/app: unsupported URL scheme 'rtmp' (use file, rtsp, rtsps, http, https or v4l2)")
        }
        var options = StreamOptions(width: 0, height: 64)
        #expect(options.problems.first?.hasPrefix("width:") == true)
        options.width = 64
        options.backoffMax = 0.1
        #expect(options.problems == ["backoffMax: must be >= backoffMin"])
        #expect(throws: SourceConfigurationError.self) { try VideoSource(url: "/a.mp4", options: options) }
    }

    @Test("start is required for wait and stop to do anything")
    func neverStarted() throws {
        let source = try VideoSource(url: "/nonexistent.mp4", options: .init(width: 8, height: 8))
        #expect(!source.isRunning)
        #expect(source.stop(timeout: 1))
        #expect(source.counters == StreamCounters())
    }
}
