import Foundation
import Synchronization

/// The output thread: takes encoded records from the detector and the decode threads through
/// one bounded queue and writes each, in order, to every sink. A full queue blocks the producer
/// (back-pressure: a slow sink slows the detector, and the live queues drop frames, counted,
/// rather than records vanishing here).
final class RecordOutput: @unchecked Sendable {
    private let condition = NSCondition()
    private var lines: [(line: [UInt8], stream: String)] = []
    private var head = 0
    private let capacity: Int
    private var sinks: [any RecordSink]
    private var closing = false
    private var busy = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    /// Called once, on the output thread, when a sink reports that it is closed for good.
    private let onClosed: @Sendable (String) -> Void
    private var reportedClosed = false
    /// Monotonic seconds of the latest record written (0: none yet).
    let lastWrite = Atomic<UInt64>(0)
    private var failuresLogged: [String: Int] = [:]
    private var giveUpAt: Double?
    private var abandoned = 0

    init(sinks: [any RecordSink], capacity: Int = 256, onClosed: @escaping @Sendable (String) -> Void) {
        self.sinks = sinks
        self.capacity = capacity
        self.onClosed = onClosed
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "output"
        self.thread = thread
        thread.start()
    }

    /// Queues a record for every sink; blocks while the queue is full. Returns false after `close`.
    @discardableResult
    func submit(_ line: [UInt8], stream: String) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !closing, lines.count - head >= capacity {
            if let deadline = giveUpAt {
                // Shutting down behind a sink that does not move: drop rather than hang.
                let remaining = deadline - Timestamp.monotonicSeconds()
                if remaining <= 0 {
                    abandoned += 1
                    return false
                }
                _ = condition.wait(until: Date(timeIntervalSinceNow: min(remaining, 0.1)))
            } else {
                condition.wait()
            }
        }
        if closing { return false }
        lines.append((line, stream))
        condition.broadcast()
        return true
    }

    /// From now on a producer waits for room at most until `deadline` (monotonic seconds).
    func beginShutdown(deadline: Double) {
        condition.lock()
        giveUpAt = deadline
        condition.broadcast()
        condition.unlock()
    }

    /// Records dropped because the queue stayed full past the shutdown deadline.
    var abandonedRecords: Int {
        condition.lock()
        defer { condition.unlock() }
        return abandoned
    }

    /// Records waiting plus the one being written.
    var pending: Int {
        condition.lock()
        defer { condition.unlock() }
        return lines.count - head + (busy ? 1 : 0)
    }

    var currentSinks: [any RecordSink] {
        condition.lock()
        defer { condition.unlock() }
        return sinks
    }

    /// Swaps in a new set of sinks between two records; returns the old ones, flushed, for the
    /// caller to close.
    func replaceSinks(_ newSinks: [any RecordSink]) -> [any RecordSink] {
        condition.lock()
        while busy { condition.wait() }
        let old = sinks
        sinks = newSinks
        condition.unlock()
        return old
    }

    /// Writes out what is queued (until `deadline`, monotonic seconds), flushes and closes the
    /// sinks, and ends the thread. Returns whether everything was written in time.
    @discardableResult
    func close(deadline: Double) -> Bool {
        condition.lock()
        while lines.count - head > 0 || busy {
            let remaining = deadline - Timestamp.monotonicSeconds()
            if remaining <= 0 { break }
            _ = condition.wait(until: Date(timeIntervalSinceNow: min(remaining, 0.1)))
        }
        let drained = lines.count - head == 0 && !busy
        closing = true
        condition.broadcast()
        condition.unlock()
        if thread != nil {
            _ = finished.wait(timeout: .now() + max(0.05, deadline - Timestamp.monotonicSeconds()))
        }
        for sink in currentSinks {
            sink.flush(deadline: deadline)
            sink.close()
        }
        return drained
    }

    private func run() {
        defer { finished.signal() }
        while true {
            condition.lock()
            while lines.count - head == 0, !closing { condition.wait() }
            if closing {
                condition.unlock()
                return
            }
            let (line, stream) = lines[head]
            head += 1
            if head == lines.count { lines.removeAll(keepingCapacity: true); head = 0 }
            else if head >= 256 { lines.removeFirst(head); head = 0 }
            busy = true
            let sinks = self.sinks
            condition.broadcast()
            condition.unlock()

            for sink in sinks {
                do {
                    try sink.write(line, stream: stream)
                } catch {
                    switch error {
                    case let .closed(reason):
                        if !reportedClosed {
                            reportedClosed = true
                            onClosed(reason)
                        }
                    case let .failed(reason):
                        // Log the first failure of a sink, then every 1000th.
                        let count = failuresLogged[sink.name, default: 0]
                        failuresLogged[sink.name] = count + 1
                        if count % 1000 == 0 {
                            Log.shared.warning("sink \(sink.name): \(reason)\(count > 0 ? " (\(count + 1) failures so far)" : "")")
                        }
                    }
                }
            }
            lastWrite.store(UInt64(Timestamp.monotonicSeconds() * 1000), ordering: .relaxed)

            condition.lock()
            busy = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
