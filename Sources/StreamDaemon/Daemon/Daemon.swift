import Decode
import Foundation
import QRTCore
import Synchronization

/// The stream daemon: decoders → bounded queues → one shared detector → records → sinks.
///
/// `run` follows the usual daemon shape: open what must be open (model, sinks, metrics),
/// start the streams, READY=1, then a loop that acts on the flags the signal handlers set
/// (SIGHUP reload, SIGTERM/SIGINT drain and stop), pings the watchdog only while frames make
/// progress, keeps STATUS= current, and ends when every stream has ended (files read to the
/// end) or stdout's reader has gone away. Cameras may be offline at READY: they reconnect on
/// their own threads.
final class Daemon: @unchecked Sendable {
    typealias DetectorFactory = (ModelConfig) throws -> FrameDetector

    /// Why `run` returned.
    enum Exit: Equatable {
        case terminated(signal: Int32)
        case streamsEnded
        case outputClosed(String)
        case failed(String)

        var status: Int32 {
            if case .failed = self { return 1 }
            return 0
        }
    }

    private(set) var config: DaemonConfig
    private let configPath: String?
    private let makeDetector: DetectorFactory
    private let notifier = SystemdNotifier()
    private let scheduler = FrameScheduler()
    private var output: RecordOutput?
    private var worker: InferenceWorker?
    private var metricsServer: HTTPServer?
    private let startTime = Timestamp.monotonicSeconds()

    private struct StreamEntry {
        var id: String
        var stats: StreamStats
        var pipeline: StreamPipeline?
    }
    /// Read by the metrics thread, changed by the loop.
    private let streams = Mutex<[StreamEntry]>([])
    private let ready = Atomic<Bool>(false)
    private let stalled = Atomic<Bool>(false)
    private let outputClosed = Mutex<String?>(nil)

    /// Seconds with work waiting and nothing finished after which the pipeline counts as stalled.
    let stallLimit: Double

    /// The metrics server's port once it listens (useful when the config asked for port 0).
    var metricsPort: Int? { metricsServer?.port }

    init(config: DaemonConfig, configPath: String?, makeDetector: @escaping DetectorFactory = Daemon.loadDetector) {
        self.config = config
        self.configPath = configPath
        self.makeDetector = makeDetector
        stallLimit = notifier.watchdogInterval ?? 30
    }

    static func loadDetector(_ model: ModelConfig) throws -> FrameDetector {
        Compute.setThreads(model.threads)
        // A Hugging Face directory runs in FP32, a `.qrt` artifact in INT8.
        let loaded = try RTDetrModel.load(path: URL(fileURLWithPath: model.path))
        return Detector(model: loaded, inputSize: model.inputSize)
    }

    // MARK: - Run

    /// Runs until a stop; returns the process exit status.
    func run() -> Int32 {
        let exit = runLoop()
        switch exit {
        case let .failed(reason):
            Log.shared.error(reason)
        case let .terminated(signal):
            Log.shared.info("stopped by signal \(signal)")
        case .streamsEnded:
            Log.shared.info("every stream has ended; exiting")
        case let .outputClosed(reason):
            Log.shared.info("\(reason); exiting")
        }
        return exit.status
    }

    func runLoop() -> Exit {
        Log.shared.setLevel(config.logLevel)
        FFmpeg.setLogLevel(config.logLevel == .debug ? .warning : .quiet)

        // 1. The model.
        let context: DetectorContext
        do {
            let loadStart = Timestamp.monotonicSeconds()
            context = DetectorContext(detector: try makeDetector(config.model), model: config.model)
            Log.shared.info("model \(config.model.id) loaded from \(config.model.path) in \(String(format: "%.2f", Timestamp.monotonicSeconds() - loadStart)) s (\(config.model.inputSize)×\(config.model.inputSize), \(config.model.threads) thread\(config.model.threads == 1 ? "" : "s"), \(context.quantizationMode))")
        } catch {
            return .failed("model.path: cannot load the model at \(config.model.path): \(error)")
        }
        // 2. Sinks, then the output and detector threads.
        let sinks: [any RecordSink]
        do {
            sinks = try Self.makeSinks(config.sinks, reusing: [])
        } catch {
            return .failed(error.description)
        }
        let output = RecordOutput(sinks: sinks) { [weak self] reason in
            self?.outputClosed.withLock { $0 = $0 ?? reason }
        }
        self.output = output
        output.start()
        let worker = InferenceWorker(scheduler: scheduler, output: output, context: context)
        self.worker = worker
        worker.start()
        // 3. Metrics.
        if let metrics = config.metrics {
            do {
                try startMetrics(metrics)
            } catch {
                output.close(deadline: Timestamp.monotonicSeconds() + 1)
                worker.stop(timeout: 1)
                return .failed("metrics: \(error)")
            }
        }
        // 4. Streams; cameras that are offline come up later on their own.
        for stream in config.streams { startStream(stream) }

        ready.store(true, ordering: .releasing)
        let summary = "\(config.streams.count) stream\(config.streams.count == 1 ? "" : "s"), sinks: \(sinks.map(\.name).joined(separator: ", "))"
        Log.shared.info("ready: \(summary)")
        notifier.ready(status: "ready: \(summary)")
        if let interval = notifier.watchdogInterval {
            Log.shared.debug("watchdog every \(interval / 2) s while frames make progress")
        }
        return loop()
    }

    private func loop() -> Exit {
        var lastPing = 0.0
        var lastStatus = ""
        var lastStatusAt = 0.0
        var lastHealthy = Timestamp.monotonicSeconds()
        var lastCompletion: UInt64 = 0
        var lastWrite: UInt64 = 0
        var reportedStall = false
        while true {
            if SignalFlags.terminate.load(ordering: .relaxed) {
                let signal = SignalFlags.terminateSignal.load(ordering: .relaxed)
                shutdown(reason: "signal \(signal)")
                return .terminated(signal: signal)
            }
            if let reason = outputClosed.withLock({ $0 }) {
                shutdown(reason: reason)
                return .outputClosed(reason)
            }
            if SignalFlags.takeReload() { reload() }
            if allStreamsEnded() {
                shutdown(reason: "every stream ended")
                return .streamsEnded
            }

            // Progress, end to end: something finished since the last turn, or nothing waits.
            let now = Timestamp.monotonicSeconds()
            let completion = worker!.lastCompletion.load(ordering: .relaxed)
            let written = output!.lastWrite.load(ordering: .relaxed)
            let waiting = scheduler.pending > 0 || worker!.isBusy || output!.pending > 0
            if !waiting || completion != lastCompletion || written != lastWrite { lastHealthy = now }
            (lastCompletion, lastWrite) = (completion, written)
            let isStalled = now - lastHealthy > stallLimit
            stalled.store(isStalled, ordering: .relaxed)
            if isStalled != reportedStall {
                reportedStall = isStalled
                if isStalled {
                    Log.shared.error("no frame has finished for \(Int(now - lastHealthy)) s with work waiting; withholding the watchdog")
                } else {
                    Log.shared.info("frames are moving again")
                }
            }
            if let interval = notifier.watchdogInterval, now - lastPing >= interval / 2, !isStalled {
                notifier.watchdog()
                lastPing = now
            }
            if now - lastStatusAt >= 1 {
                let status = snapshot().statusLine
                if status != lastStatus {
                    notifier.status(status)
                    lastStatus = status
                }
                lastStatusAt = now
            }
            usleep(20_000)
        }
    }

    private func allStreamsEnded() -> Bool {
        let pipelines = streams.withLock { $0.compactMap(\.pipeline) }
        guard !pipelines.isEmpty, pipelines.allSatisfy(\.hasEnded) else { return false }
        return scheduler.pending == 0 && !(worker?.isBusy ?? false)
    }

    // MARK: - Streams

    private func startStream(_ stream: StreamConfig) {
        let stats = streams.withLock { entries -> StreamStats in
            if let index = entries.firstIndex(where: { $0.id == stream.id }) {
                entries[index].stats.update { $0.kind = stream.kind }
                return entries[index].stats
            }
            let stats = StreamStats(id: stream.id, kind: stream.kind)
            entries.append(StreamEntry(id: stream.id, stats: stats, pipeline: nil))
            return stats
        }
        guard stream.enabled else {
            stats.update { $0.state = .disabled }
            return
        }
        do {
            let pipeline = try StreamPipeline(config: stream, inputSize: config.model.inputSize, stats: stats,
                                              scheduler: scheduler, output: output!)
            streams.withLock { entries in
                if let index = entries.firstIndex(where: { $0.id == stream.id }) { entries[index].pipeline = pipeline }
            }
            pipeline.start()
        } catch {
            // The config parser validated the URL; this is a programming error, reported as a down stream.
            stats.update { $0.state = .down; $0.reason = error.reason }
            Log.shared.error("stream \(stream.id): \(error.reason)")
        }
    }

    private func stopStream(id: String, reason: String, forget: Bool) {
        let pipeline = streams.withLock { entries -> StreamPipeline? in
            guard let index = entries.firstIndex(where: { $0.id == id }) else { return nil }
            let pipeline = entries[index].pipeline
            if forget { entries.remove(at: index) } else { entries[index].pipeline = nil }
            return pipeline
        }
        pipeline?.stop(reason: reason)
    }

    // MARK: - Reload

    /// SIGHUP: RELOADING=1, read the config again, restart only the streams whose config
    /// changed (all of them if the model's input size did), swap sinks, model and metrics as
    /// needed, READY=1. An invalid config changes nothing.
    private func reload() {
        notifier.reloading()
        guard let configPath else {
            notifier.ready(status: snapshot().statusLine)
            return
        }
        Log.shared.info("reloading \(configPath)")
        let new: DaemonConfig
        do {
            new = try ConfigParser.load(path: configPath)
        } catch {
            for line in error.lines { Log.shared.error("reload: \(line)") }
            Log.shared.error("reload failed; still running the previous configuration")
            notifier.ready(status: "reload failed (\(error.issues.first?.description ?? "invalid config")); " + snapshot().statusLine)
            return
        }
        let old = config
        var restartAll = false

        // Everything that can fail comes first, so a failure leaves the old setup whole.
        var newContext: DetectorContext?
        if new.model != old.model {
            let current = worker!.currentContext
            if new.model.path == old.model.path, new.model.inputSize == old.model.inputSize, new.model.threads == old.model.threads {
                newContext = DetectorContext(detector: current.detector, model: new.model,
                                             quantizationMode: current.quantizationMode,
                                             quantizationEpoch: current.quantizationEpoch)
            } else {
                do {
                    newContext = DetectorContext(detector: try makeDetector(new.model), model: new.model)
                    Log.shared.info("reload: model \(new.model.id) loaded from \(new.model.path)")
                } catch {
                    if new.model.threads != old.model.threads { Compute.setThreads(old.model.threads) }
                    Log.shared.error("reload: model.path: cannot load the model at \(new.model.path): \(error); still running the previous configuration")
                    notifier.ready(status: "reload failed (model); " + snapshot().statusLine)
                    return
                }
                restartAll = new.model.inputSize != old.model.inputSize
            }
        }
        var newSinks: [any RecordSink]?
        if new.sinks != old.sinks {
            do {
                newSinks = try Self.makeSinks(new.sinks, reusing: output!.currentSinks)
            } catch {
                Log.shared.error("reload: \(error); still running the previous configuration")
                notifier.ready(status: "reload failed (sinks); " + snapshot().statusLine)
                return
            }
        }

        config = new
        Log.shared.setLevel(new.logLevel)
        FFmpeg.setLogLevel(new.logLevel == .debug ? .warning : .quiet)
        if let newContext { worker!.replaceContext(newContext) }
        if let newSinks {
            let old = output!.replaceSinks(newSinks)
            for sink in old where !newSinks.contains(where: { $0 === sink }) {
                sink.flush(deadline: Timestamp.monotonicSeconds() + 1)
                sink.close()
            }
        }
        if new.metrics != old.metrics {
            metricsServer?.stop()
            metricsServer = nil
            if let metrics = new.metrics {
                do { try startMetrics(metrics) } catch { Log.shared.error("reload: metrics: \(error)") }
            }
        }

        let oldStreams = Dictionary(uniqueKeysWithValues: old.streams.map { ($0.id, $0) })
        let newIDs = Set(new.streams.map(\.id))
        var changes: [String] = []
        for stream in old.streams where !newIDs.contains(stream.id) {
            stopStream(id: stream.id, reason: "removed by reload", forget: true)
            changes.append("-\(stream.id)")
        }
        for stream in new.streams {
            if let previous = oldStreams[stream.id] {
                guard previous != stream || restartAll else { continue }
                stopStream(id: stream.id, reason: "changed by reload", forget: false)
                changes.append("~\(stream.id)")
            } else {
                changes.append("+\(stream.id)")
            }
            startStream(stream)
        }
        // Keep the table in config order.
        streams.withLock { entries in
            entries.sort { a, b in
                (new.streams.firstIndex { $0.id == a.id } ?? .max) < (new.streams.firstIndex { $0.id == b.id } ?? .max)
            }
        }
        let summary = changes.isEmpty ? "no stream changed" : "streams " + changes.joined(separator: " ")
        Log.shared.info("reloaded: \(summary)")
        notifier.ready(status: "reloaded (\(summary)); " + snapshot().statusLine)
    }

    // MARK: - Shutdown

    /// STOPPING=1; stop the decoders; let the detector finish what is queued; write the last
    /// records and flush the sinks — all within `shutdown_timeout_s`.
    private func shutdown(reason: String) {
        let deadline = Timestamp.monotonicSeconds() + config.shutdownTimeout
        notifier.stopping(status: "stopping: \(reason)")
        Log.shared.info("stopping (\(reason)); draining for at most \(ObjectFields.format(config.shutdownTimeout)) s")
        let pipelines = streams.withLock { $0.compactMap(\.pipeline) }
        for pipeline in pipelines { pipeline.stopDecoding() }
        scheduler.closeInputs()
        // Keep a fifth of the time (at most a second) for the sinks.
        let sinkReserve = min(1, config.shutdownTimeout / 5)
        output!.beginShutdown(deadline: deadline - sinkReserve)
        while scheduler.pending > 0 || worker!.isBusy, Timestamp.monotonicSeconds() < deadline - sinkReserve {
            usleep(5_000)
        }
        let left = scheduler.pending
        worker!.stop(timeout: max(0, deadline - sinkReserve - Timestamp.monotonicSeconds()))
        for pipeline in pipelines {
            pipeline.stop(reason: "shutdown", timeout: max(0.05, min(0.5, deadline - sinkReserve - Timestamp.monotonicSeconds())))
        }
        metricsServer?.stop()
        let drained = output!.close(deadline: deadline)
        let abandoned = output!.abandonedRecords
        if left > 0 || !drained || abandoned > 0 {
            Log.shared.warning("shutdown deadline reached: \(left) queued frame\(left == 1 ? "" : "s") not processed\(drained && abandoned == 0 ? "" : ", some records not written")")
        }
    }

    // MARK: - Parts

    private func startMetrics(_ metrics: MetricsConfig) throws(HTTPServer.StartError) {
        let server = try HTTPServer(address: metrics.bind, port: metrics.port) { [weak self] path in
            guard let self else { return HTTPServer.Response(status: 503, contentType: "text/plain", body: []) }
            switch path {
            case "/metrics":
                return HTTPServer.Response(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                           body: Array(MetricsRenderer.prometheus(snapshot()).utf8))
            case "/healthz":
                let (status, body) = MetricsRenderer.health(snapshot())
                return HTTPServer.Response(status: status, contentType: "application/json", body: Array(body.utf8))
            default:
                return HTTPServer.Response(status: 404, contentType: "text/plain; charset=utf-8",
                                           body: Array("not found; try /metrics or /healthz\n".utf8))
            }
        }
        metricsServer = server
        let host = metrics.bind.contains(":") ? "[\(metrics.bind)]" : metrics.bind
        Log.shared.info("metrics on http://\(host):\(server.port)/metrics and /healthz")
    }

    struct SinkError: Error, CustomStringConvertible {
        let description: String
    }

    /// Opens the sinks `configs` lists, taking over any of `existing` whose config is unchanged.
    static func makeSinks(_ configs: [SinkConfig], reusing existing: [any RecordSink]) throws(SinkError) -> [any RecordSink] {
        var sinks: [any RecordSink] = []
        for (index, config) in configs.enumerated() {
            if let kept = existing.first(where: { sinkConfig(of: $0) == config }) {
                sinks.append(kept)
                continue
            }
            switch config {
            case .stdout:
                sinks.append(DescriptorSink())
            case let .file(file):
                do { sinks.append(try RotatingFileSink(file)) } catch {
                    throw SinkError(description: "sinks[\(index)].path: \(error)")
                }
            case let .mqtt(mqtt):
                do { sinks.append(try MQTTSink(mqtt)) } catch {
                    throw SinkError(description: "sinks[\(index)]: \(error)")
                }
            }
        }
        return sinks
    }

    private static func sinkConfig(of sink: any RecordSink) -> SinkConfig? {
        switch sink {
        case let file as RotatingFileSink: .file(file.config)
        case let mqtt as MQTTSink: .mqtt(mqtt.config)
        case let descriptor as DescriptorSink where descriptor.name == "stdout": .stdout
        default: nil
        }
    }

    /// The state of everything, for /metrics, /healthz and STATUS=.
    func snapshot() -> DaemonSnapshot {
        let entries = streams.withLock { $0 }
        for entry in entries { entry.pipeline?.refreshStats() }
        let context = worker?.currentContext
        return DaemonSnapshot(
            ready: ready.load(ordering: .acquiring), stalled: stalled.load(ordering: .relaxed),
            modelID: context?.model.id ?? config.model.id,
            quantizationMode: context?.quantizationMode ?? "fp32",
            quantizationEpoch: context?.quantizationEpoch ?? 0,
            uptime: Timestamp.monotonicSeconds() - startTime,
            streams: entries.map { DaemonSnapshot.Stream(id: $0.id, values: $0.stats.read()) },
            sinks: (output?.currentSinks ?? []).map { DaemonSnapshot.Sink(name: $0.name, counters: $0.counters) },
            recordsPending: output?.pending ?? 0,
            now: Timestamp.monotonicSeconds())
    }
}
