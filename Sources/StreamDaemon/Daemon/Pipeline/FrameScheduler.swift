import Decode
import Foundation

/// A frame waiting for the detector, with when it was queued.
struct QueuedFrame: Sendable {
    var frame: DecodedFrame
    /// Monotonic seconds.
    var enqueuedAt: Double
}

/// One stream's bounded queue. Its state is guarded by the `FrameScheduler` it belongs to.
final class StreamQueue: @unchecked Sendable {
    let streamID: String
    let capacity: Int
    let policy: StreamConfig.QueuePolicy
    /// The stream's own threshold, overriding the model's.
    let scoreThreshold: Float?
    let stats: StreamStats
    /// The pipeline feeding this queue (nil in tests that drive the scheduler alone).
    weak var owner: StreamPipeline?
    fileprivate var frames: [QueuedFrame] = []
    fileprivate var head = 0
    fileprivate var closed = false
    fileprivate var droppedSinceRecord = 0
    /// The source ended: once the frames before it are served, `next` hands out the end.
    fileprivate var endPending = false
    /// Frames dropped over the queue's life (overflow, and frames discarded when it closed).
    fileprivate(set) var droppedTotal = 0

    init(streamID: String, capacity: Int, policy: StreamConfig.QueuePolicy, scoreThreshold: Float? = nil,
         stats: StreamStats? = nil) {
        precondition(capacity > 0)
        self.streamID = streamID
        self.capacity = capacity
        self.policy = policy
        self.scoreThreshold = scoreThreshold
        self.stats = stats ?? StreamStats(id: streamID, kind: .file)
        frames.reserveCapacity(capacity)
    }

    fileprivate var count: Int { frames.count - head }

    fileprivate func popFirst() -> QueuedFrame {
        let first = frames[head]
        head += 1
        if head == frames.count { frames.removeAll(keepingCapacity: true); head = 0 }
        else if head >= 64 { frames.removeFirst(head); head = 0 }
        return first
    }
}

/// The per-stream queues in front of the one shared detector, served round-robin: each turn
/// takes one frame from the next stream that has one, so a fast file cannot starve a camera.
///
/// `push` applies the queue's policy: `drop-oldest` discards the oldest waiting frame (counted)
/// and never blocks the decoder; `block` waits for room, holding the decoder back so a file
/// loses nothing. One lock (and condition) guards every queue: frame rates are far below
/// where that would matter, and it makes "wait for any stream" trivial.
final class FrameScheduler: @unchecked Sendable {
    /// What `next` hands the detector.
    struct Work: Sendable {
        var queue: StreamQueue
        /// nil: the stream's end, after its last frame.
        var item: QueuedFrame?
        /// Frames of this stream dropped since the previous frame taken from it.
        var droppedBefore: Int
    }

    private let condition = NSCondition()
    private var queues: [StreamQueue] = []
    private var cursor = 0
    private var inputsClosed = false

    func add(_ queue: StreamQueue) {
        condition.lock()
        queues.append(queue)
        condition.unlock()
    }

    /// Closes `queue`, discards what it holds (counted as dropped) and releases a producer
    /// blocked on it. Returns the number discarded.
    @discardableResult
    func remove(_ queue: StreamQueue) -> Int {
        condition.lock()
        defer { condition.unlock() }
        queue.closed = true
        let discarded = queue.count
        queue.droppedTotal += discarded
        queue.frames.removeAll()
        queue.head = 0
        if let index = queues.firstIndex(where: { $0 === queue }) {
            queues.remove(at: index)
            if cursor > index { cursor -= 1 }
        }
        condition.broadcast()
        return discarded
    }

    /// Queues a frame. Returns false when the queue (or the scheduler's input) is closed and
    /// the frame was not taken.
    @discardableResult
    func push(_ frame: DecodedFrame, to queue: StreamQueue) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !queue.closed, !inputsClosed, queue.count >= queue.capacity {
            switch queue.policy {
            case .dropOldest:
                _ = queue.popFirst()
                queue.droppedTotal += 1
                queue.droppedSinceRecord += 1
            case .block:
                condition.wait()
            }
        }
        if queue.closed || inputsClosed { return false }
        queue.frames.append(QueuedFrame(frame: frame, enqueuedAt: Timestamp.monotonicSeconds()))
        condition.broadcast()
        return true
    }

    /// The next frame in round-robin order, waiting up to `timeout` seconds for one.
    func next(timeout: Double) -> Work? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            if !queues.isEmpty {
                for step in 0..<queues.count {
                    let index = (cursor + step) % queues.count
                    let queue = queues[index]
                    if queue.count == 0, queue.endPending {
                        queue.endPending = false
                        cursor = (index + 1) % queues.count
                        return Work(queue: queue, item: nil, droppedBefore: 0)
                    }
                    guard queue.count > 0 else { continue }
                    cursor = (index + 1) % queues.count
                    let item = queue.popFirst()
                    let dropped = queue.droppedSinceRecord
                    queue.droppedSinceRecord = 0
                    condition.broadcast()  // room for a blocked producer
                    return Work(queue: queue, item: item, droppedBefore: dropped)
                }
            }
            guard condition.wait(until: deadline) else { return nil }
        }
    }

    /// Marks the end of a stream's frames: `next` returns it once the queue is empty.
    func finish(_ queue: StreamQueue) {
        condition.lock()
        if !queue.closed { queue.endPending = true }
        condition.broadcast()
        condition.unlock()
    }

    /// Shutdown: every later push fails and blocked producers return at once. Frames already
    /// queued stay for `next` to drain.
    func closeInputs() {
        condition.lock()
        inputsClosed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Frames waiting in all queues.
    var pending: Int {
        condition.lock()
        defer { condition.unlock() }
        return queues.reduce(0) { $0 + $1.count }
    }

    /// Depth and drops of one queue.
    func snapshot(_ queue: StreamQueue) -> (depth: Int, dropped: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (queue.count, queue.droppedTotal)
    }
}
