import CFFmpeg
import Foundation
import Synchronization

/// A video stream from a file, an RTSP or HTTP URL, or a V4L2 device, decoded on a dedicated
/// thread into RGB24 frames at the model's size.
///
/// Events arrive in order on the decode thread through the handler given to `start`. The
/// handler may block (a bounded queue in `block` policy holds the decoder back); while it
/// blocks, no stall is counted. Network and device sources reconnect after failures with
/// exponential backoff and jitter; a source that delivers no frame for `stallTimeout` seconds
/// counts as failed. Frames are never invented or repeated: every delivered frame is a
/// picture the decoder produced, once.
///
/// ```swift
/// let source = try VideoSource(url: "rtsp://cam/stream", options: .init(width: 640, height: 640))
/// source.start { event in
///     if case .frame(let frame) = event { queue.push(frame) }
/// }
/// ...
/// source.stop()
/// ```
public final class VideoSource: Sendable {
    public let locator: SourceLocator
    public let options: StreamOptions
    private let shared: Shared

    /// Validates `url` and `options`; opens nothing yet.
    public init(url: String, options: StreamOptions) throws(SourceConfigurationError) {
        let locator = try SourceLocator(url)
        if let problem = options.problems.first {
            throw SourceConfigurationError(url: locator.redacted, reason: problem)
        }
        self.locator = locator
        self.options = options
        self.shared = Shared()
    }

    deinit {
        shared.control.requestStop()
    }

    /// Starts the decode thread. `handler` receives every event on that thread.
    /// - Precondition: called at most once.
    public func start(_ handler: @escaping @Sendable (StreamEvent) -> Void) {
        let first = shared.state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        precondition(first, "VideoSource.start called twice")
        let (locator, options, shared) = (self.locator, self.options, self.shared)
        let thread = Thread {
            shared.state.withLock { $0.thread = pthread_self() }
            StreamRunner(locator: locator, options: options, shared: shared, handler: handler).run()
            shared.state.withLock { $0.finished = true }
            shared.finished.signal()
        }
        thread.name = "decode \(locator.redacted)"
        thread.start()
    }

    /// Asks the decode thread to end and returns at once. Blocking FFmpeg calls return within
    /// about 100 ms (the interrupt callback); a handler that is blocked must be released by
    /// its consumer. No event is delivered after the request.
    public func requestStop() {
        shared.control.requestStop()
    }

    /// Ends the decode thread and waits for it (up to `timeout` seconds, forever if nil).
    /// Called from the handler itself, it only requests the stop. Returns whether the thread
    /// has ended (or never started).
    @discardableResult
    public func stop(timeout: Double? = nil) -> Bool {
        requestStop()
        let onDecodeThread = shared.state.withLock { state in
            state.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        }
        if onDecodeThread { return false }
        return wait(timeout: timeout)
    }

    /// Waits until the decode thread has ended (up to `timeout` seconds, forever if nil).
    /// Returns whether it has ended; true when it never started.
    @discardableResult
    public func wait(timeout: Double? = nil) -> Bool {
        let (started, finished) = shared.state.withLock { ($0.started, $0.finished) }
        if !started || finished { return true }
        let result = timeout.map { shared.finished.wait(timeout: .now() + $0) }
            ?? { shared.finished.wait(); return .success }()
        guard result == .success else { return false }
        shared.finished.signal()  // let other waiters through
        return true
    }

    /// Whether the decode thread is running.
    public var isRunning: Bool {
        shared.state.withLock { $0.started && !$0.finished }
    }

    public var counters: StreamCounters {
        shared.counters.withLock { $0 }
    }

    /// State shared between the public object and its decode thread.
    final class Shared: Sendable {
        struct State: Sendable {
            var started = false
            var finished = false
            var thread: pthread_t?
        }
        let state = Mutex(State())
        let counters = Mutex(StreamCounters())
        let control = StopControl()
        let finished = DispatchSemaphore(value: 0)
    }
}

/// The stop flag FFmpeg's interrupt callback polls, plus a wake-up for the decode thread's
/// sleeps (pacing, backoff). The C object is all atomics.
final class StopControl: @unchecked Sendable {
    let interrupt: OpaquePointer
    private let wake = DispatchSemaphore(value: 0)

    init() {
        guard let interrupt = cffmpeg_interrupt_create() else { fatalError("out of memory") }
        self.interrupt = interrupt
    }

    deinit { cffmpeg_interrupt_destroy(interrupt) }

    var stopRequested: Bool { cffmpeg_interrupt_stop_requested(interrupt) != 0 }

    func requestStop() {
        cffmpeg_interrupt_request_stop(interrupt)
        wake.signal()
    }

    /// Sleeps `seconds`, or less when a stop is requested. Returns false when stopping.
    func sleep(_ seconds: Double) -> Bool {
        if stopRequested { return false }
        if seconds > 0 { _ = wake.wait(timeout: .now() + seconds) }
        if stopRequested {
            wake.signal()  // keep the wake-up for any later sleep
            return false
        }
        return true
    }
}
