import CFFmpeg
import Foundation

/// The decode thread of one `VideoSource`: sessions (open → decode until failure or end),
/// with backoff between them. Lives and dies on that thread.
final class StreamRunner {
    private let locator: SourceLocator
    private let options: StreamOptions
    private let shared: VideoSource.Shared
    private let handler: @Sendable (StreamEvent) -> Void
    private let control: StopControl
    private let scaler: FrameScaler
    private let backoff: Backoff
    private let reconnects: Bool
    /// Index of the next delivered frame, over the life of the source.
    private var nextIndex = 0
    /// After a finite source (a file, a recording over HTTP or RTSP) fails mid-way, the pts of
    /// the last frame delivered: the next session seeks there and skips what was already sent.
    private var resumeAfter: Double?

    init(locator: SourceLocator, options: StreamOptions, shared: VideoSource.Shared,
         handler: @escaping @Sendable (StreamEvent) -> Void) {
        self.locator = locator
        self.options = options
        self.shared = shared
        self.handler = handler
        self.control = shared.control
        self.scaler = FrameScaler(width: options.width, height: options.height)
        self.backoff = Backoff(minimum: options.backoffMin, maximum: options.backoffMax, jitter: options.backoffJitter)
        self.reconnects = options.reconnect ?? locator.kind.reconnectsByDefault
    }

    /// How a session ended.
    enum Outcome {
        case stopped
        /// End of file, nothing more to come.
        case ended
        /// Open again at once, from the start (a source that loops but cannot seek).
        case reopen
        case failed(reason: String, deliveredFrames: Bool)
    }

    func run() {
        var attempt = 0
        while !control.stopRequested {
            switch runSession() {
            case .stopped:
                return
            case .ended:
                emit(.ended)
                return
            case .reopen:
                continue
            case .failed(let reason, let deliveredFrames):
                emit(.down(reason: reason))
                guard reconnects else {
                    emit(.ended)
                    return
                }
                attempt = deliveredFrames ? 1 : attempt + 1
                if let limit = options.maxReconnectAttempts, attempt > limit {
                    emit(.ended)
                    return
                }
                let delay = backoff.delay(attempt: attempt)
                emit(.reconnecting(attempt: attempt, delay: delay))
                guard control.sleep(delay) else { return }
                shared.counters.withLock { $0.reconnects += 1 }
            }
        }
    }

    /// Delivers an event unless a stop was requested.
    private func emit(_ event: StreamEvent) {
        if !control.stopRequested { handler(event) }
    }

    private func count(_ update: (inout StreamCounters) -> Void) {
        shared.counters.withLock { update(&$0) }
    }

    // MARK: - One session

    private var settings: VideoInput.Settings {
        var settings = VideoInput.Settings(whitelist: options.protocolWhitelist ?? locator.kind.protocolWhitelist)
        switch locator.kind {
        case .rtsp: settings.options["rtsp_transport"] = options.rtspTransport.rawValue
        case .v4l2:
            settings.inputFormat = "v4l2"
            settings.nonBlocking = true
        case .file, .http: break
        }
        settings.options.merge(options.formatOptions) { _, user in user }
        settings.openTimeout = options.openTimeout
        settings.decoderThreads = options.decoderThreads
        return settings
    }

    private func runSession() -> Outcome {
        let input: VideoInput
        do {
            input = try VideoInput(url: locator.ffmpegURL, settings: settings, interrupt: control.interrupt)
        } catch {
            if error.kind == .stopped { return .stopped }
            return .failed(reason: openReason(error), deliveredFrames: false)
        }
        guard let format = input.format, let codec = input.codec else {
            return .failed(reason: "internal error: input not open", deliveredFrames: false)
        }
        let parameters = input.stream.pointee.codecpar.pointee
        emit(.up(StreamInfo(
            url: locator.redacted, kind: locator.kind, container: input.formatName, codec: input.codecName,
            sourceWidth: Int(parameters.width), sourceHeight: Int(parameters.height),
            frameRate: input.frameRate, duration: input.duration)))

        var session = Session(input: input, format: format, codec: codec)
        session.finite = isFinite(input, format)
        if let resume = resumeAfter, session.finite {
            if let unit = input.timeBase.seconds {
                av_seek_frame(format, input.streamIndex, Int64((resume / unit).rounded(.down)), AVSEEK_FLAG_BACKWARD)
            }
            session.skipThrough = resume
        }
        resumeAfter = nil
        let outcome = decode(&session)
        if case .failed = outcome, session.finite {
            resumeAfter = session.lastPTS ?? session.skipThrough
        }
        return outcome
    }

    /// Whether the input has an end: files, and network recordings whose length is known.
    /// At their end they end (or loop) instead of reconnecting, and after a failure they resume
    /// where they stopped instead of starting over.
    private func isFinite(_ input: VideoInput, _ format: UnsafeMutablePointer<AVFormatContext>) -> Bool {
        switch locator.kind {
        case .file: true
        case .v4l2: false
        case .rtsp, .http:
            input.duration != nil && format.pointee.duration_estimation_method != AVFMT_DURATION_FROM_BITRATE
        }
    }

    private func decode(_ session: inout Session) -> Outcome {
        let (input, format, codec) = (session.input, session.format, session.codec)
        armStallDeadline()
        while true {
            if control.stopRequested { return .stopped }
            let read = av_read_frame(format, input.packet)
            if read == FFmpeg.again {
                // A non-blocking device with no frame ready: wait a little, then poll again.
                if stalled { return .failed(reason: stallReason, deliveredFrames: session.delivered) }
                if !control.sleep(0.005) { return .stopped }
                continue
            }
            if read < 0 {
                if control.stopRequested { return .stopped }
                // Deliver what the decoder still holds, whatever happens next.
                avcodec_send_packet(codec, nil)
                if !receiveFrames(&session) { return .stopped }
                if stalled { return .failed(reason: stallReason, deliveredFrames: session.delivered) }
                if read != FFmpeg.eof {
                    return .failed(reason: "read error: \(FFmpeg.message(read))", deliveredFrames: session.delivered)
                }
                guard session.finite else {
                    return .failed(reason: "end of stream", deliveredFrames: session.delivered)
                }
                if !options.loop {
                    if let truncation = truncation(session) {
                        return .failed(reason: truncation, deliveredFrames: session.delivered)
                    }
                    return .ended
                }
                guard session.framesThisPass > 0 else {
                    return .failed(reason: "no decodable frames to loop over", deliveredFrames: session.delivered)
                }
                // Opening again also starts from the beginning (a new HTTP request, say).
                guard rewind(session) else { return .reopen }
                session.startPass()
                armStallDeadline()
                continue
            }
            defer { av_packet_unref(input.packet) }
            if input.packet.pointee.stream_index != input.streamIndex { continue }
            session.lastPacketCorrupt = input.packet.pointee.flags & AV_PKT_FLAG_CORRUPT != 0
            session.decodeStart = cffmpeg_monotonic_seconds()
            let sent = avcodec_send_packet(codec, input.packet)
            if sent < 0 && sent != FFmpeg.again {
                count { $0.decodeErrors += 1 }
            } else if !receiveFrames(&session) {
                return .stopped
            }
            if stalled {
                avcodec_send_packet(codec, nil)
                if !receiveFrames(&session) { return .stopped }
                return .failed(reason: stallReason, deliveredFrames: session.delivered)
            }
        }
    }

    /// No frame within the stall timeout (FFmpeg may report the interrupt a call late).
    private var stalled: Bool {
        cffmpeg_interrupt_timed_out(control.interrupt) != 0
            || cffmpeg_interrupt_deadline_passed(control.interrupt) != 0
    }

    /// Why a file that reached its end looks cut short, if it does: its last video packet is
    /// incomplete, or the frames stop well before the duration its index declares.
    private func truncation(_ session: Session) -> String? {
        if session.lastPacketCorrupt { return "truncated: the last video packet is incomplete" }
        let stream = session.input.stream.pointee
        guard stream.duration > 0, stream.duration != FFmpeg.noPTS,
              session.format.pointee.duration_estimation_method != AVFMT_DURATION_FROM_BITRATE,
              let lastEnd = session.lastFrameEnd,
              let duration = session.input.seconds(ofTimestamp: stream.duration)
        else { return nil }
        let start = session.input.seconds(ofTimestamp: stream.start_time) ?? 0
        let declaredEnd = start + duration
        guard declaredEnd - lastEnd > max(1, 0.1 * duration) else { return nil }
        return String(format: "truncated: video stops at %.2f s of %.2f s", lastEnd - start, duration)
    }

    /// Per-session decode state.
    private struct Session {
        let input: VideoInput
        let format: UnsafeMutablePointer<AVFormatContext>
        let codec: UnsafeMutablePointer<AVCodecContext>
        var delivered = false
        var framesThisPass = 0
        var finite = false
        /// Frames up to this pts were delivered by an earlier session.
        var skipThrough: Double?
        var lastPTS: Double?
        var lastPacketCorrupt = false
        /// End time (pts + one frame) of the last delivered frame.
        var lastFrameEnd: Double?
        var decodeStart = 0.0
        var pacer = Pacer()

        init(input: VideoInput, format: UnsafeMutablePointer<AVFormatContext>, codec: UnsafeMutablePointer<AVCodecContext>) {
            self.input = input
            self.format = format
            self.codec = codec
        }

        mutating func startPass() {
            framesThisPass = 0
            lastFrameEnd = nil
            pacer = Pacer()
        }
    }

    /// Takes every frame the decoder has ready and delivers it. Returns false when stopping.
    private func receiveFrames(_ session: inout Session) -> Bool {
        let frame = session.input.frame
        while true {
            let received = avcodec_receive_frame(session.codec, frame)
            if received == FFmpeg.again || received == FFmpeg.eof { return true }
            if received < 0 {
                count { $0.decodeErrors += 1 }
                return true
            }
            defer { av_frame_unref(frame) }
            if options.dropCorruptFrames && frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 {
                count { $0.decodeErrors += 1 }
                continue
            }
            let pts = session.input.seconds(ofTimestamp: frame.pointee.best_effort_timestamp)
            if let skip = session.skipThrough {
                if let pts, pts <= skip + 1e-6 { continue }
                session.skipThrough = nil
            }
            guard let rgb = scaler.scale(frame) else {
                count { $0.decodeErrors += 1 }
                continue
            }
            let now = cffmpeg_monotonic_seconds()
            let latency = now - session.decodeStart
            session.decodeStart = now

            if options.realtime && session.finite {
                let mediaTime = pts ?? session.input.frameRate.map { Double(session.framesThisPass) / $0 }
                if let mediaTime, !session.pacer.wait(until: mediaTime, control: control) { return false }
            }
            if control.stopRequested { return false }

            let decoded = DecodedFrame(
                index: nextIndex, pts: pts,
                sourceWidth: Int(frame.pointee.width), sourceHeight: Int(frame.pointee.height),
                width: options.width, height: options.height, rgb: rgb, decodeLatency: latency)
            nextIndex += 1
            session.delivered = true
            session.framesThisPass += 1
            session.lastPTS = pts
            session.lastFrameEnd = pts.map { $0 + 1 / (session.input.frameRate ?? .infinity) }
            count { $0.framesDecoded += 1 }
            emit(.frame(decoded))
            // Time the handler spent blocked is not a stall.
            armStallDeadline()
            session.decodeStart = cffmpeg_monotonic_seconds()
        }
    }

    /// Back to the start of a file for another pass. False when the file cannot seek.
    private func rewind(_ session: Session) -> Bool {
        let start = session.format.pointee.start_time
        let target = start == FFmpeg.noPTS ? 0 : start
        guard av_seek_frame(session.format, -1, target, AVSEEK_FLAG_BACKWARD) >= 0 else { return false }
        avcodec_flush_buffers(session.codec)
        return true
    }

    private func armStallDeadline() {
        cffmpeg_interrupt_arm(control.interrupt, options.stallTimeout)
    }

    private var stallReason: String {
        "stalled: no frame for \(VideoInput.seconds(options.stallTimeout))"
    }

    private func openReason(_ failure: InputFailure) -> String {
        switch failure.kind {
        case .notFound:
            locator.kind == .v4l2 ? "no such device (\(failure.reason))" : "cannot open: \(failure.reason)"
        case .invalidData: "cannot open: not a media stream FFmpeg can read (\(failure.reason))"
        case .timedOut: failure.reason
        case .noVideoStream: "no video stream"
        default: "cannot open: \(failure.reason)"
        }
    }
}

/// Holds frames back to the file's own rate: frame at media time t leaves at
/// wall(first) + (t − t(first)). A consumer that falls behind by more than half a second, a
/// timestamp that goes backwards, or a jump of more than 10 s restarts the clock instead of
/// causing a burst or a long sleep.
struct Pacer {
    private var baseline: (wall: Double, media: Double)?

    /// Sleeps until `media` is due. Returns false when a stop was requested.
    mutating func wait(until media: Double, control: StopControl) -> Bool {
        let now = cffmpeg_monotonic_seconds()
        guard let baseline, media >= baseline.media else {
            self.baseline = (now, media)
            return true
        }
        let due = baseline.wall + (media - baseline.media)
        if due - now > 10 || now - due > 0.5 {
            self.baseline = (now, media)
            return true
        }
        return due > now ? control.sleep(due - now) : true
    }
}
