import Decode
import Foundation
import Synchronization

/// One configured stream: its decoder (a `VideoSource` on its own thread) feeding its bounded
/// queue, and its lifecycle turned into records and log lines.
///
/// A failure is logged once with its reason at warning level; the same reason again (every
/// reconnect attempt of an offline camera) only at debug level, until the stream comes up.
final class StreamPipeline: Sendable {
    let config: StreamConfig
    let stats: StreamStats
    let queue: StreamQueue
    private let source: VideoSource
    private let scheduler: FrameScheduler
    private let output: RecordOutput
    private let ended = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    init(config: StreamConfig, inputSize: Int, stats: StreamStats, scheduler: FrameScheduler,
         output: RecordOutput) throws(SourceConfigurationError) {
        var options = StreamOptions(width: inputSize, height: inputSize)
        options.rtspTransport = config.rtspTransport == .udp ? .udp : .tcp
        options.realtime = config.realtime
        options.loop = config.loop
        options.backoffMin = config.reconnectInitialDelay
        options.backoffMax = config.reconnectMaxDelay
        options.openTimeout = config.openTimeout
        options.stallTimeout = config.stallTimeout
        options.decoderThreads = config.decoderThreads
        options.formatOptions = config.formatOptions
        source = try VideoSource(url: config.url, options: options)
        self.config = config
        self.stats = stats
        self.scheduler = scheduler
        self.output = output
        queue = StreamQueue(streamID: config.id, capacity: config.queueCapacity, policy: config.queuePolicy,
                            scoreThreshold: config.scoreThreshold, stats: stats)
        queue.owner = self
    }

    /// The source has nothing more to give (its `ended` event came).
    var hasEnded: Bool { ended.load(ordering: .acquiring) }

    func start() {
        stats.update { $0.state = .starting; $0.reason = nil }
        scheduler.add(queue)
        source.start { [self] event in handle(event) }
    }

    /// Stops decoding, discards queued frames (counted as dropped) and writes a `stop` record.
    /// Waits up to `timeout` seconds for the decode thread.
    func stop(reason: String, timeout: Double = 2) {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        source.requestStop()
        scheduler.remove(queue)
        if !source.wait(timeout: timeout) {
            Log.shared.warning("stream \(config.id): the decoder did not stop within \(timeout) s")
        }
        retire()
        if !hasEnded {
            output.submit(RecordEncoder.encode(stream: config.id, event: .stop(reason: reason), at: .now()), stream: config.id)
        }
    }

    /// Shutdown: stop decoding but keep what is queued for the detector to drain.
    func stopDecoding() {
        source.requestStop()
    }

    /// Refreshes the shared counters from the decoder and the queue.
    func refreshStats() {
        let counters = source.counters
        let (depth, dropped) = scheduler.snapshot(queue)
        stats.update { v in
            v.decode = counters
            v.queueDepth = depth
            v.dropped = dropped
        }
    }

    private func retire() {
        let (_, dropped) = scheduler.snapshot(queue)
        stats.retire(decode: source.counters, dropped: dropped)
    }

    private func handle(_ event: StreamEvent) {
        let id = config.id
        switch event {
        case let .frame(frame):
            scheduler.push(frame, to: queue)
            return
        case let .up(info):
            let wasReconnect = stats.read().ups > 0
            stats.update { v in
                v.state = .up
                v.info = info
                v.reason = nil
                v.reconnectAttempt = 0
                v.loggedReason = nil
                v.ups += 1
            }
            let rate = info.frameRate.map { String(format: " %.2f fps", $0) } ?? ""
            Log.shared.info("stream \(id): \(wasReconnect ? "up again" : "up") — \(info.kind.rawValue) \(info.container) \(info.codec) \(info.sourceWidth)×\(info.sourceHeight)\(rate)")
            emit(.up(info))
        case let .down(reason):
            var logIt = false
            stats.update { v in
                v.state = .down
                v.reason = reason
                logIt = v.loggedReason != reason
                v.loggedReason = reason
            }
            if logIt {
                Log.shared.warning("stream \(id) down: \(reason) (\(source.locator.redacted))")
            } else {
                Log.shared.debug("stream \(id) down again: \(reason)")
            }
            emit(.down(reason: reason))
        case let .reconnecting(attempt, delay):
            stats.update { v in
                v.state = .reconnecting
                v.reconnectAttempt = attempt
            }
            Log.shared.debug("stream \(id): reconnect attempt \(attempt) in \(String(format: "%.2f", delay)) s")
            emit(.reconnect(attempt: attempt, delay: delay))
        case .ended:
            // The `end` record follows the stream's last frame record: the detector writes it
            // when it reaches the end marker (see `finishEnded`).
            scheduler.finish(queue)
        }
    }

    /// Called by the detector's thread once the stream's last queued frame is done.
    func finishEnded() {
        let frames = source.counters.framesDecoded + stats.read().decodeBase.framesDecoded
        stats.update { $0.state = .ended }
        Log.shared.info("stream \(config.id) ended after \(frames) frame\(frames == 1 ? "" : "s")")
        emit(.end(frames: frames))
        ended.store(true, ordering: .releasing)
    }

    private func emit(_ event: LifecycleEvent) {
        output.submit(RecordEncoder.encode(stream: config.id, event: event, at: .now()), stream: config.id)
    }
}
