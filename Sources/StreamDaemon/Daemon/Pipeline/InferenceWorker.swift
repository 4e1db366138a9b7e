import Foundation
import QRTCore
import Synchronization

/// What the daemon needs from a detector; `QRTCore.Detector` is one, tests use fakes.
protocol FrameDetector: AnyObject {
    func detect(rgb: UnsafeBufferPointer<UInt8>, sourceWidth: Int, sourceHeight: Int,
                scoreThreshold: Float) throws -> [Detection]
    /// How the layers execute: "fp32", or "int8" for a `.qrt` artifact (schema `quantization.mode`).
    var quantizationMode: String { get }
}

extension Detector: FrameDetector {
    var quantizationMode: String { model.executionMode.rawValue }
}

/// The detector and what every record says about it. Replaced whole on a reload that changes
/// the model; the worker picks up the new one between frames.
final class DetectorContext: @unchecked Sendable {
    let detector: FrameDetector
    let model: ModelConfig
    /// "fp32" for a checkpoint directory, "int8" for a `.qrt` artifact.
    let quantizationMode: String
    /// Bumped by online requantization each time new parameters are swapped in; 0 for fp32.
    let quantizationEpoch: Int

    init(detector: FrameDetector, model: ModelConfig, quantizationMode: String? = nil, quantizationEpoch: Int = 0) {
        self.detector = detector
        self.model = model
        self.quantizationMode = quantizationMode ?? detector.quantizationMode
        self.quantizationEpoch = quantizationEpoch
    }
}

/// The one thread that runs the shared detector: takes frames from the scheduler (round-robin
/// over streams), detects, and hands one record per frame to the output.
final class InferenceWorker: @unchecked Sendable {
    private let scheduler: FrameScheduler
    private let output: RecordOutput
    private let context: Mutex<DetectorContext>
    private let stopFlag = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Monotonic milliseconds when the frame in hand was taken; 0 when idle.
    let busySince = Atomic<UInt64>(0)
    /// Monotonic milliseconds of the latest finished frame; 0 before the first.
    let lastCompletion = Atomic<UInt64>(0)
    let framesProcessed = Atomic<Int>(0)
    private var errorsLogged = 0
    private var appliedThreads = 0

    init(scheduler: FrameScheduler, output: RecordOutput, context: DetectorContext) {
        self.scheduler = scheduler
        self.output = output
        self.context = Mutex(context)
    }

    var currentContext: DetectorContext { context.withLock { $0 } }

    func replaceContext(_ newContext: DetectorContext) {
        context.withLock { $0 = newContext }
    }

    func start() {
        let thread = Thread { [self] in
            while !stopFlag.load(ordering: .relaxed) {
                guard let work = scheduler.next(timeout: 0.1) else { continue }
                process(work)
            }
            finished.signal()
        }
        thread.name = "detector"
        thread.start()
    }

    /// Ends the thread after the frame in hand; waits up to `timeout` seconds.
    @discardableResult
    func stop(timeout: Double) -> Bool {
        stopFlag.store(true, ordering: .relaxed)
        return finished.wait(timeout: .now() + max(0, timeout)) == .success
    }

    var isBusy: Bool { busySince.load(ordering: .relaxed) != 0 }

    private func process(_ work: FrameScheduler.Work) {
        let queue = work.queue
        guard let item = work.item else {
            queue.owner?.finishEnded()
            return
        }
        let context = currentContext
        if appliedThreads != context.model.threads {
            // OpenMP's thread count is per calling thread: set it on this one, which runs the model.
            Compute.setThreads(context.model.threads)
            appliedThreads = context.model.threads
        }
        let frame = item.frame
        let start = Timestamp.monotonicSeconds()
        busySince.store(UInt64(start * 1000), ordering: .relaxed)
        defer { busySince.store(0, ordering: .relaxed) }
        let size = context.model.inputSize
        guard frame.width == size, frame.height == size, frame.rgb.count == size * size * 3 else {
            // Decoded for a model that a reload has since replaced; its stream is restarting.
            queue.stats.update { $0.droppedBase += 1 }
            return
        }
        let threshold = queue.scoreThreshold ?? context.model.scoreThreshold
        let detections: [Detection]
        do {
            detections = try frame.rgb.withUnsafeBufferPointer {
                try context.detector.detect(rgb: $0, sourceWidth: frame.sourceWidth, sourceHeight: frame.sourceHeight,
                                            scoreThreshold: threshold)
            }
        } catch {
            queue.stats.update { $0.inferenceErrors += 1 }
            if errorsLogged % 100 == 0 {
                Log.shared.error("stream \(queue.streamID): inference failed on frame \(frame.index): \(error)")
            }
            errorsLogged += 1
            return
        }
        let end = Timestamp.monotonicSeconds()
        let record = FrameRecord(
            stream: queue.streamID, frameIndex: frame.index, pts: frame.pts,
            sourceWidth: frame.sourceWidth, sourceHeight: frame.sourceHeight,
            modelID: context.model.id, inputSize: size,
            quantizationMode: context.quantizationMode, quantizationEpoch: context.quantizationEpoch,
            decodeLatency: frame.decodeLatency, queueLatency: max(0, start - item.enqueuedAt),
            inferenceLatency: end - start, dropped: work.droppedBefore, detections: detections)
        output.submit(RecordEncoder.encode(record, at: .now()), stream: queue.streamID)
        queue.stats.frameProcessed(latency: end - start, at: end)
        framesProcessed.add(1, ordering: .relaxed)
        lastCompletion.store(UInt64(end * 1000), ordering: .relaxed)
    }
}
