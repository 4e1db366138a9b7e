import Foundation

/// Renders a `DaemonSnapshot` as Prometheus text (`/metrics`) and as JSON (`/healthz`).
enum MetricsRenderer {
    static func prometheus(_ snapshot: DaemonSnapshot) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
            let text = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(text) \(format(value))\n"
        }
        let streams = snapshot.streams

        family("qrtdetr_up", "gauge", "1 once the model and config are loaded.")
        sample("qrtdetr_up", [], snapshot.ready ? 1 : 0)
        family("qrtdetr_stalled", "gauge", "1 while frames wait but none has been finished within the stall limit.")
        sample("qrtdetr_stalled", [], snapshot.stalled ? 1 : 0)
        family("qrtdetr_uptime_seconds", "gauge", "Seconds since the daemon started.")
        sample("qrtdetr_uptime_seconds", [], snapshot.uptime)
        family("qrtdetr_quantization_epoch", "gauge", "Quantization parameter epoch in use (0: none swapped in).")
        sample("qrtdetr_quantization_epoch", [("model", snapshot.modelID), ("mode", snapshot.quantizationMode)],
               Double(snapshot.quantizationEpoch))

        let perStream: [(String, String, String, (StreamStats.Values) -> Double)] = [
            ("qrtdetr_stream_up", "gauge", "1 while the stream's source is open.", { $0.state == .up ? 1 : 0 }),
            ("qrtdetr_frames_decoded_total", "counter", "Frames the decoder delivered.", { Double($0.framesDecoded) }),
            ("qrtdetr_frames_processed_total", "counter", "Frames the detector finished (one record each).", { Double($0.processed) }),
            ("qrtdetr_frames_dropped_total", "counter", "Frames dropped from the stream's queue.", { Double($0.framesDropped) }),
            ("qrtdetr_decode_errors_total", "counter", "Packets or frames the decoder rejected.", { Double($0.decodeErrors) }),
            ("qrtdetr_reconnects_total", "counter", "Reconnect attempts.", { Double($0.reconnects) }),
            ("qrtdetr_inference_errors_total", "counter", "Frames the detector failed on.", { Double($0.inferenceErrors) }),
            ("qrtdetr_queue_depth", "gauge", "Frames waiting in the stream's queue.", { Double($0.queueDepth) }),
            ("qrtdetr_stream_fps", "gauge", "Frames processed per second over the last 5 s.", { $0.fps(now: snapshot.now) }),
        ]
        for (name, type, help, value) in perStream {
            family(name, type, help)
            for stream in streams { sample(name, [("stream", stream.id)], value(stream.values)) }
        }
        family("qrtdetr_last_frame_age_seconds", "gauge", "Seconds since the stream's latest processed frame (-1: none yet).")
        for stream in streams {
            let age = stream.values.lastFrameAt.map { snapshot.now - $0 } ?? -1
            sample("qrtdetr_last_frame_age_seconds", [("stream", stream.id)], age)
        }

        family("qrtdetr_inference_seconds", "histogram", "Detector time per frame.")
        for stream in streams {
            var cumulative = 0
            for (bound, count) in zip(StreamStats.latencyBuckets, stream.values.latencyCounts) {
                cumulative += count
                sample("qrtdetr_inference_seconds_bucket", [("stream", stream.id), ("le", format(bound))], Double(cumulative))
            }
            sample("qrtdetr_inference_seconds_bucket", [("stream", stream.id), ("le", "+Inf")], Double(stream.values.processed))
            sample("qrtdetr_inference_seconds_sum", [("stream", stream.id)], stream.values.latencySum)
            sample("qrtdetr_inference_seconds_count", [("stream", stream.id)], Double(stream.values.processed))
        }

        let perSink: [(String, String, String, (SinkCounters) -> Double)] = [
            ("qrtdetr_sink_records_total", "counter", "Records the sink took.", { Double($0.records) }),
            ("qrtdetr_sink_dropped_total", "counter", "Records the sink dropped (bounded buffer full).", { Double($0.dropped) }),
            ("qrtdetr_sink_errors_total", "counter", "Failed writes.", { Double($0.errors) }),
        ]
        for (name, type, help, value) in perSink {
            family(name, type, help)
            for sink in snapshot.sinks { sample(name, [("sink", sink.name)], value(sink.counters)) }
        }
        family("qrtdetr_sink_connected", "gauge", "1 while a network sink is connected.")
        for sink in snapshot.sinks {
            if let connected = sink.counters.connected { sample("qrtdetr_sink_connected", [("sink", sink.name)], connected ? 1 : 0) }
        }
        family("qrtdetr_records_pending", "gauge", "Records waiting for the output thread.")
        sample("qrtdetr_records_pending", [], Double(snapshot.recordsPending))
        return out
    }

    /// `/healthz`: HTTP 200 when ready and not stalled, else 503; the body says why.
    static func health(_ snapshot: DaemonSnapshot) -> (status: Int, body: String) {
        var json = JSONLineWriter()
        json.beginObject()
        let healthy = snapshot.ready && !snapshot.stalled
        let allUp = snapshot.streams.allSatisfy { [.up, .ended, .disabled].contains($0.values.state) }
        json.string("status", !healthy ? "unhealthy" : allUp ? "ok" : "degraded")
        json.bool("ready", snapshot.ready)
        json.bool("stalled", snapshot.stalled)
        json.string("model", snapshot.modelID)
        json.beginObject("quantization")
        json.string("mode", snapshot.quantizationMode)
        json.int("epoch", snapshot.quantizationEpoch)
        json.endObject()
        json.number("uptime_s", snapshot.uptime, decimals: 3)
        json.beginArray("streams")
        for stream in snapshot.streams {
            let v = stream.values
            json.beginObject()
            json.string("id", stream.id)
            json.string("kind", v.kind.rawValue)
            json.string("state", v.state.rawValue)
            if let reason = v.reason { json.string("reason", reason) } else { json.null("reason") }
            json.number("last_frame_age_s", v.lastFrameAt.map { snapshot.now - $0 }, decimals: 3)
            json.number("fps", v.fps(now: snapshot.now), decimals: 2)
            json.int("frames_processed", v.processed)
            json.int("frames_dropped", v.framesDropped)
            json.int("reconnects", v.reconnects)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return (healthy ? 200 : 503, String(decoding: json.newline(), as: UTF8.self))
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
