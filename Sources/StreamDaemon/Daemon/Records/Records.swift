import Decode
import Foundation
import QRTCore

/// Wall-clock and monotonic time of one instant, as every record carries them.
struct Timestamp: Sendable {
    var wall: timespec
    /// CLOCK_MONOTONIC in nanoseconds.
    var monotonicNanoseconds: Int64

    static func now() -> Timestamp {
        var wall = timespec(), mono = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return Timestamp(wall: wall, monotonicNanoseconds: Int64(mono.tv_sec) * 1_000_000_000 + Int64(mono.tv_nsec))
    }

    static func monotonicSeconds() -> Double {
        var mono = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return Double(mono.tv_sec) + Double(mono.tv_nsec) * 1e-9
    }

    /// RFC 3339 in UTC with milliseconds: `2026-12-04T20:17:01.123Z`.
    var rfc3339: String {
        var seconds = wall.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(wall.tv_nsec / 1_000_000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}

/// One processed frame, as written to the sinks (`type: "frame"` in docs/detections.schema.json).
struct FrameRecord: Sendable {
    var stream: String
    var frameIndex: Int
    var pts: Double?
    var sourceWidth: Int
    var sourceHeight: Int
    var modelID: String
    var inputSize: Int
    var quantizationMode: String
    var quantizationEpoch: Int
    /// Seconds.
    var decodeLatency: Double
    var queueLatency: Double
    var inferenceLatency: Double
    /// Frames of this stream dropped (queue overflow) since its previous frame record.
    var dropped: Int
    var detections: [Detection]
}

/// A change in a stream's life (`type: "stream"`).
enum LifecycleEvent: Sendable {
    case up(StreamInfo)
    case down(reason: String)
    case reconnect(attempt: Int, delay: Double)
    /// The source has nothing more (end of file, or it gave up); `frames` decoded in all.
    case end(frames: Int)
    /// The daemon stopped the stream (shutdown, or a reload removed or changed it).
    case stop(reason: String)

    var name: String {
        switch self {
        case .up: "up"
        case .down: "down"
        case .reconnect: "reconnect"
        case .end: "end"
        case .stop: "stop"
        }
    }
}

/// Encodes records as JSON Lines per docs/detections.schema.json.
enum RecordEncoder {
    /// Bump with any incompatible change to the records (and to the schema's `$id`).
    static let schemaVersion = 1

    static func encode(_ record: FrameRecord, at time: Timestamp) -> [UInt8] {
        var json = JSONLineWriter(capacity: 256 + record.detections.count * 96)
        json.beginObject()
        json.int("schema_version", schemaVersion)
        json.string("type", "frame")
        json.string("stream", record.stream)
        json.int("frame", record.frameIndex)
        json.number("pts", record.pts, decimals: 6)
        json.string("time", time.rfc3339)
        json.int("monotonic_ns", Int(time.monotonicNanoseconds))
        json.beginObject("source")
        json.int("width", record.sourceWidth)
        json.int("height", record.sourceHeight)
        json.endObject()
        json.beginObject("model")
        json.string("id", record.modelID)
        json.int("input_size", record.inputSize)
        json.endObject()
        json.beginObject("quantization")
        json.string("mode", record.quantizationMode)
        json.int("epoch", record.quantizationEpoch)
        json.endObject()
        json.beginObject("latency_ms")
        json.number("decode", record.decodeLatency * 1000, decimals: 3)
        json.number("queue", record.queueLatency * 1000, decimals: 3)
        json.number("inference", record.inferenceLatency * 1000, decimals: 3)
        json.endObject()
        json.int("dropped", record.dropped)
        json.beginArray("detections")
        for detection in record.detections {
            json.beginObject()
            json.string("label", detection.label)
            json.int("category_id", detection.categoryID)
            json.number("score", Double(detection.score), decimals: 4)
            json.beginArray("box")
            for value in [detection.box.x1, detection.box.y1, detection.box.x2, detection.box.y2] {
                json.number(Double(value), decimals: 2)
            }
            json.endArray()
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.newline()
    }

    static func encode(stream: String, event: LifecycleEvent, at time: Timestamp) -> [UInt8] {
        var json = JSONLineWriter()
        json.beginObject()
        json.int("schema_version", schemaVersion)
        json.string("type", "stream")
        json.string("stream", stream)
        json.string("event", event.name)
        json.string("time", time.rfc3339)
        json.int("monotonic_ns", Int(time.monotonicNanoseconds))
        switch event {
        case let .up(info):
            json.beginObject("source")
            json.string("url", info.url)
            json.string("kind", info.kind.rawValue)
            json.string("container", info.container)
            json.string("codec", info.codec)
            json.int("width", info.sourceWidth)
            json.int("height", info.sourceHeight)
            json.number("fps", info.frameRate, decimals: 3)
            json.number("duration_s", info.duration, decimals: 3)
            json.endObject()
        case let .down(reason):
            json.string("reason", reason)
        case let .reconnect(attempt, delay):
            json.int("attempt", attempt)
            json.number("delay_s", delay, decimals: 3)
        case let .end(frames):
            json.int("frames", frames)
        case let .stop(reason):
            json.string("reason", reason)
        }
        json.endObject()
        return json.newline()
    }
}
