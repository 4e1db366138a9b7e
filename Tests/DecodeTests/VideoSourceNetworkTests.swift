@testable import Decode
import Foundation
import Testing

/// Network and device sources. Every address is loopback; every wait is bounded.
@Suite("VideoSource on networks and devices", .serialized)
struct VideoSourceNetworkTests {
    static var fastRetry: StreamOptions {
        var options = StreamOptions(width: 32, height: 24)
        options.backoffMin = 0.05
        options.backoffMax = 0.4
        options.openTimeout = 3
        options.stallTimeout = 3
        return options
    }

    @Test("HTTP: the server dies mid-stream and comes back; the source reconnects and frames continue",
          .enabled(if: TestSupport.haveCLI), .timeLimit(.minutes(1)))
    func httpReconnect() throws {
        let port = try Loopback.freePort()
        let clip = TestSupport.fixture("clip.mp4")
        var server = try Loopback.FFmpegHTTPServer(file: clip, port: port)
        defer { server.kill() }
        let source = try VideoSource(url: "http://127.0.0.1:\(port)/live.ts", options: Self.fastRetry)
        let recorder = EventRecorder()
        source.start(recorder.handler)
        defer { source.stop(timeout: 5) }

        // The source retries until ffmpeg listens, then frames flow at 25 fps.
        try #require(EventRecorder.waitUntil(timeout: 20) { recorder.frameCount >= 15 }, "no frames from the first server")
        let before = source.counters
        let downsBefore = recorder.downs.count
        server.kill()
        try #require(EventRecorder.waitUntil(timeout: 10) { recorder.downs.count > downsBefore }, "no down after the kill")
        let framesAtKill = recorder.frameCount

        server = try Loopback.FFmpegHTTPServer(file: clip, port: port)
        let resumed = EventRecorder.waitUntil(timeout: 20) {
            recorder.frameCount >= framesAtKill + 15 && source.counters.reconnects > before.reconnects
        }
        #expect(resumed, "frames did not continue: \(recorder.frameCount) frames, downs \(recorder.downs)")

        let after = source.counters
        #expect(after.reconnects > before.reconnects)
        #expect(after.framesDecoded > before.framesDecoded)
        #expect(recorder.ups.count >= 2)
        #expect(recorder.ups.allSatisfy { $0.kind == .http && $0.codec == "h264" && $0.sourceWidth == 160 })
        let frames = recorder.frames
        #expect(frames.map(\.index) == Array(0..<frames.count), "indices skip or repeat")
        #expect(recorder.downs.allSatisfy { !$0.contains("\n") })
        #expect(recorder.endedCount == 0)
    }

    @Test("HTTP: a server that goes silent mid-stream is a stall; the source reconnects",
          .enabled(if: TestSupport.haveCLI), .timeLimit(.minutes(1)))
    func httpStall() throws {
        let port = try Loopback.freePort()
        let server = try Loopback.FFmpegHTTPServer(file: TestSupport.fixture("clip.mp4"), port: port)
        defer { server.kill() }
        var options = Self.fastRetry
        options.stallTimeout = 1
        let source = try VideoSource(url: "http://127.0.0.1:\(port)/live.ts", options: options)
        let recorder = EventRecorder()
        source.start(recorder.handler)
        defer { source.stop(timeout: 5) }
        try #require(EventRecorder.waitUntil(timeout: 20) { recorder.frameCount >= 10 })
        // Until ffmpeg listens, attempts are refused.
        let downsBefore = recorder.downs.count
        let attemptsBefore = recorder.reconnectAttempts.count
        server.freeze()
        let frozenAt = Date()
        #expect(EventRecorder.waitUntil(timeout: 10) { recorder.downs.count > downsBefore })
        let waited = Date().timeIntervalSince(frozenAt)
        #expect(recorder.downs.dropFirst(downsBefore).first == "stalled: no frame for 1 s", "\(recorder.downs)")
        #expect(waited >= 0.5 && waited < 4, "stall noticed after \(waited) s")
        #expect(EventRecorder.waitUntil(timeout: 10) { recorder.reconnectAttempts.count > attemptsBefore })
        let frames = recorder.frames
        #expect(frames.map(\.index) == Array(0..<frames.count))
    }

    @Test("HTTP recording: a dropped download resumes where it stopped; the end is the end",
          .enabled(if: TestSupport.executable("python3") != nil), .timeLimit(.minutes(1)))
    func httpRecordingResumes() throws {
        let port = try Loopback.freePort()
        let clip = TestSupport.fixture("clip.mp4")
        let size = try FileManager.default.attributesOfItem(atPath: clip)[.size] as! Int
        let server = try Loopback.FlakyFileServer(
            directory: (clip as NSString).deletingLastPathComponent, port: port, cutFirstAt: size * 3 / 5)
        _ = server
        let (recorder, source, finished) = try VideoSource.record("http://127.0.0.1:\(port)/clip.mp4", Self.fastRetry, timeout: 30)
        #expect(finished)
        let frames = recorder.frames
        #expect(frames.count == 50, "\(recorder.downs)")
        #expect(frames.map(\.index) == Array(0..<frames.count))
        let pts = frames.compactMap(\.pts)
        #expect(pts.count == frames.count && zip(pts, pts.dropFirst()).allSatisfy { $0 < $1 }, "frames repeat")
        // Attempts before python listens are refused; then exactly one drop, one resume.
        let lost = recorder.downs.filter { !$0.contains("Connection refused") }
        #expect(lost.count == 1, "\(recorder.downs)")
        #expect(recorder.ups.count == 2)
        #expect(source.counters.reconnects >= 1)
        #expect(recorder.ups.last?.duration != nil)
        #expect(recorder.lastIsEnded)
    }

    @Test("an unreachable host goes down, backs off, and gives up after the attempt limit",
          .timeLimit(.minutes(1)))
    func unreachable() throws {
        let port = try Loopback.freePort()  // nothing listens there
        var options = Self.fastRetry
        options.maxReconnectAttempts = 3
        let (recorder, source, finished) = try VideoSource.record("http://127.0.0.1:\(port)/x", options, timeout: 20)
        #expect(finished)
        #expect(recorder.downs.count == 4)
        #expect(recorder.downs.allSatisfy { $0.hasPrefix("cannot open: ") && !$0.contains("\n") }, "\(recorder.downs)")
        #expect(recorder.reconnectAttempts == [1, 2, 3])
        #expect(source.counters.reconnects == 3)
        #expect(recorder.lastIsEnded && recorder.frameCount == 0)
    }

    @Test("RTSP over TCP and UDP: frames flow, and return after the server restarts",
          .enabled(if: TestSupport.haveCLI && TestSupport.executable("python3") != nil), .timeLimit(.minutes(1)))
    func rtspStreams() throws {
        let port = try Loopback.freePort()
        let clip = TestSupport.fixture("clip.mp4")
        var server = try Loopback.RTSPServer(file: clip, port: port)
        defer { server.kill() }
        for transport in [StreamOptions.RTSPTransport.tcp, .udp] {
            var options = Self.fastRetry
            options.rtspTransport = transport
            let source = try VideoSource(url: "rtsp://127.0.0.1:\(port)/live", options: options)
            let recorder = EventRecorder()
            source.start(recorder.handler)
            defer { source.stop(timeout: 5) }
            #expect(EventRecorder.waitUntil(timeout: 20) { recorder.frameCount >= 15 }, "\(transport): \(recorder.downs)")
            if transport == .tcp {
                let reconnects = source.counters.reconnects
                let downs = recorder.downs.count
                server.kill()
                #expect(EventRecorder.waitUntil(timeout: 10) { recorder.downs.count > downs })
                let frames = recorder.frameCount
                server = try Loopback.RTSPServer(file: clip, port: port)
                #expect(EventRecorder.waitUntil(timeout: 20) {
                    recorder.frameCount >= frames + 15 && source.counters.reconnects > reconnects
                }, "\(recorder.downs)")
            }
            #expect(source.stop(timeout: 5))
            let info = try #require(recorder.ups.first)
            #expect(info.kind == .rtsp && info.container == "rtsp" && info.codec == "h264" && info.sourceWidth == 160)
            let frames = recorder.frames
            #expect(frames.map(\.index) == Array(0..<frames.count))
            #expect(frames.allSatisfy { $0.sourceWidth == 160 && $0.sourceHeight == 120 })
        }
    }

    @Test("RTSP to a closed port fails cleanly over TCP and UDP", .timeLimit(.minutes(1)))
    func rtspClosedPort() throws {
        let port = try Loopback.freePort()
        for transport in [StreamOptions.RTSPTransport.tcp, .udp] {
            var options = Self.fastRetry
            options.rtspTransport = transport
            options.reconnect = false
            let (recorder, _, finished) = try VideoSource.record("rtsp://127.0.0.1:\(port)/stream", options, timeout: 10)
            #expect(finished)
            #expect(recorder.downs.count == 1, "\(recorder.downs)")
            // Reaching the socket means the options (rtsp_transport, whitelist) were accepted.
            #expect(recorder.downs.first?.contains("not recognised") == false, "\(recorder.downs)")
            #expect(recorder.lastIsEnded)
        }
    }

    @Test("a server that accepts and never answers times out; stop() interrupts a blocked open",
          .timeLimit(.minutes(1)))
    func silentServer() throws {
        let listener = try Loopback.SilentListener()
        var options = Self.fastRetry
        options.openTimeout = 0.5
        options.reconnect = false
        let (recorder, _, finished) = try VideoSource.record("http://127.0.0.1:\(listener.port)/x", options, timeout: 10)
        #expect(finished)
        #expect(recorder.downs.count == 1)
        #expect(recorder.downs.first?.hasPrefix("timed out after 0.5 s") == true, "\(recorder.downs)")

        options.openTimeout = 30
        let source = try VideoSource(url: "http://127.0.0.1:\(listener.port)/y", options: options)
        let blocked = EventRecorder()
        source.start(blocked.handler)
        Thread.sleep(forTimeInterval: 0.3)
        let started = Date()
        #expect(source.stop(timeout: 5))
        #expect(Date().timeIntervalSince(started) < 1)
        #expect(blocked.records.isEmpty)
    }

    @Test("a V4L2 device that does not exist goes down with a one-line reason", .timeLimit(.minutes(1)))
    func missingDevice() throws {
        var options = Self.fastRetry
        options.maxReconnectAttempts = 1
        let (recorder, _, finished) = try VideoSource.record("/dev/video987", options, timeout: 10)
        #expect(finished)
        #expect(recorder.downs.count == 2)
        if FFmpeg.devicesAvailable {
            #expect(recorder.downs.allSatisfy { $0.hasPrefix("no such device") }, "\(recorder.downs)")
        }
        #expect(recorder.downs.allSatisfy { !$0.contains("\n") })
        #expect(recorder.reconnectAttempts == [1])
        #expect(recorder.lastIsEnded)
    }

    @Test("unknown demuxer options are named in the reason")
    func unknownOption() throws {
        var options = StreamOptions(width: 8, height: 8)
        options.formatOptions = ["no_such_option": "1"]
        let (recorder, _, _) = try VideoSource.record(TestSupport.fixture("clip.mp4"), options)
        #expect(recorder.downs.count == 1)
        #expect(recorder.downs.first?.contains("no_such_option") == true, "\(recorder.downs)")
    }

    @Test("backoff doubles from the minimum to the maximum, spread by the jitter")
    func backoff() {
        let backoff = Backoff(minimum: 0.5, maximum: 8, jitter: 0.25)
        #expect(backoff.delay(attempt: 1, random: 0.5) == 0.5)
        #expect(backoff.delay(attempt: 2, random: 0.5) == 1)
        #expect(backoff.delay(attempt: 4, random: 0.5) == 4)
        #expect(backoff.delay(attempt: 5, random: 0.5) == 8)
        #expect(backoff.delay(attempt: 500, random: 0.5) == 8)
        #expect(backoff.delay(attempt: 3, random: 0) == 1.5)
        #expect(backoff.delay(attempt: 3, random: 0.999_999) < 2.5 + 1e-5)
        #expect(backoff.delay(attempt: 9, random: 0.999) <= 8)
        for attempt in 1...20 {
            let d = backoff.delay(attempt: attempt)
            #expect(d >= 0.375 && d <= 8)
        }
    }
}
