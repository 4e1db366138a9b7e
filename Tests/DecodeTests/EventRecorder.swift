import Decode
import Foundation
import Synchronization
import Testing

/// Collects a source's events for assertions; safe to read from the test while the decode
/// thread appends.
final class EventRecorder: Sendable {
    struct Frame: Sendable {
        let index: Int
        let pts: Double?
        let sourceWidth, sourceHeight, width, height: Int
        let latency: Double
        let rgb: [UInt8]?
        let wallTime: Double
    }

    enum Record: Sendable {
        case up(StreamInfo)
        case frame(Frame)
        case down(String)
        case reconnecting(attempt: Int, delay: Double)
        case ended
    }

    private let storage = Mutex<[Record]>([])
    private let keepPixels: Bool
    private let start = Date()

    init(keepPixels: Bool = false) { self.keepPixels = keepPixels }

    var handler: @Sendable (StreamEvent) -> Void {
        { [self] event in
            let record: Record
            switch event {
            case .up(let info): record = .up(info)
            case .frame(let frame):
                #expect(frame.rgb.count == frame.width * frame.height * 3)
                record = .frame(Frame(
                    index: frame.index, pts: frame.pts, sourceWidth: frame.sourceWidth,
                    sourceHeight: frame.sourceHeight, width: frame.width, height: frame.height,
                    latency: frame.decodeLatency, rgb: keepPixels ? frame.rgb : nil,
                    wallTime: Date().timeIntervalSince(start)))
            case .down(let reason): record = .down(reason)
            case .reconnecting(let attempt, let delay): record = .reconnecting(attempt: attempt, delay: delay)
            case .ended: record = .ended
            }
            storage.withLock { $0.append(record) }
        }
    }

    var records: [Record] { storage.withLock { $0 } }
    var frames: [Frame] { records.compactMap { if case .frame(let f) = $0 { f } else { nil } } }
    var frameCount: Int { storage.withLock { $0.reduce(0) { if case .frame = $1 { $0 + 1 } else { $0 } } } }
    var downs: [String] { records.compactMap { if case .down(let r) = $0 { r } else { nil } } }
    var ups: [StreamInfo] { records.compactMap { if case .up(let i) = $0 { i } else { nil } } }
    var reconnectAttempts: [Int] { records.compactMap { if case .reconnecting(let a, _) = $0 { a } else { nil } } }
    var endedCount: Int { records.filter { if case .ended = $0 { true } else { false } }.count }
    var lastIsEnded: Bool { if case .ended = records.last { true } else { false } }

    /// Polls `condition` every 10 ms until it holds or `timeout` seconds pass.
    @discardableResult
    static func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }
}

extension VideoSource {
    /// Runs a source to its end (files) or for `timeout` seconds, then stops it.
    static func record(_ url: String, _ options: StreamOptions, keepPixels: Bool = false,
                       timeout: Double = 30) throws -> (EventRecorder, VideoSource, finished: Bool) {
        let source = try VideoSource(url: url, options: options)
        let recorder = EventRecorder(keepPixels: keepPixels)
        source.start(recorder.handler)
        let finished = source.wait(timeout: timeout)
        if !finished { source.stop(timeout: 5) }
        return (recorder, source, finished)
    }
}
