import CMosquitto
import Foundation
import Synchronization

/// Publishes each record to an MQTT broker through libmosquitto (QoS 1 by default), on the
/// library's own network thread, which reconnects with backoff after the broker goes away.
///
/// The outbound buffer is bounded: messages the broker has not yet acknowledged (in flight,
/// or queued while disconnected) count against `max_queued`; beyond it new records are
/// dropped and counted instead of growing memory without end.
final class MQTTSink: RecordSink, @unchecked Sendable {
    let name: String
    let config: MQTTSinkConfig
    private var mosq: OpaquePointer?
    private let state = Mutex(State())
    /// Guards `mosq` between the connect retries and `close`.
    private let connectLock = Mutex(())
    private let wake = DispatchSemaphore(value: 0)

    private struct State {
        var counters = SinkCounters()
        /// Published, not yet acknowledged (QoS ≥ 1) or not yet sent (QoS 0).
        var pending = 0
        var everConnected = false
        var loggedDisconnect = false
    }

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    private static let libraryReady: Bool = {
        mosquitto_lib_init()
        return true
    }()

    init(_ config: MQTTSinkConfig) throws(StartError) {
        _ = Self.libraryReady
        self.config = config
        self.name = "mqtt:\(config.host):\(config.port)"
        state.withLock { $0.counters.connected = false }
        let clientID = config.clientID ?? "qrt-detr-\(getpid())"
        guard let mosq = mosquitto_new(clientID, true, nil) else {
            throw StartError(description: "cannot create an MQTT client: \(String(cString: strerror(errno)))")
        }
        self.mosq = mosq
        mosquitto_user_data_set(mosq, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311)
        if let username = config.username {
            var password: String?
            if let file = config.passwordFile {
                guard case let .success(data) = ConfigParser.readFile(file) else {
                    throw StartError(description: "cannot read the MQTT password file \(file)")
                }
                password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            }
            mosquitto_username_pw_set(mosq, username, password)
        }
        mosquitto_reconnect_delay_set(mosq, 1, UInt32(config.reconnectMaxDelay), true)
        mosquitto_connect_callback_set(mosq) { _, context, code in
            guard let context else { return }
            Unmanaged<MQTTSink>.fromOpaque(context).takeUnretainedValue().connected(code: code)
        }
        mosquitto_disconnect_callback_set(mosq) { _, context, code in
            guard let context else { return }
            Unmanaged<MQTTSink>.fromOpaque(context).takeUnretainedValue().disconnected(code: code)
        }
        mosquitto_publish_callback_set(mosq) { _, context, _ in
            guard let context else { return }
            Unmanaged<MQTTSink>.fromOpaque(context).takeUnretainedValue().acknowledged()
        }
        // A broker that is down now is not an error. Once a first connection attempt is under
        // way, libmosquitto's network thread reconnects by itself; but an attempt that fails at
        // once (connection refused on loopback, unknown host) leaves that thread waiting for a
        // first attempt forever, so `retryFirstConnection` keeps making them until one starts.
        let rc = mosquitto_connect_async(mosq, config.host, Int32(config.port), Int32(config.keepalive))
        if rc == MOSQ_ERR_INVAL.rawValue {
            throw StartError(description: "invalid MQTT broker address \(config.host):\(config.port)")
        }
        let started = mosquitto_loop_start(mosq)
        guard started == MOSQ_ERR_SUCCESS.rawValue else {
            throw StartError(description: "cannot start the MQTT network thread: \(Self.message(started))")
        }
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            Log.shared.warning("sink \(name): cannot connect yet: \(Self.reason(rc)); retrying")
            state.withLock { $0.loggedDisconnect = true }
            let thread = Thread { [self] in retryFirstConnection() }
            thread.name = "mqtt connect"
            thread.start()
        }
    }

    private func retryFirstConnection() {
        var delay = 0.5
        while true {
            if wake.wait(timeout: .now() + delay) == .success { return }  // closing
            let rc = connectLock.withLock { _ -> Int32 in
                guard let mosq else { return MOSQ_ERR_SUCCESS.rawValue }
                return mosquitto_reconnect_async(mosq)
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue { return }
            Log.shared.debug("sink \(name): still cannot connect: \(Self.reason(rc))")
            delay = min(delay * 2, Double(config.reconnectMaxDelay))
        }
    }

    deinit {
        if mosq != nil { close() }
    }

    func write(_ line: [UInt8], stream: String) throws(SinkFailure) {
        guard let mosq else { throw .failed("closed") }
        // QoS 0 messages are never acknowledged: only QoS 1 and 2 count against the buffer
        // (libmosquitto drops unsent QoS 0 messages itself when the connection goes).
        let tracked = config.qos > 0
        let full = state.withLock { s -> Bool in
            if s.pending >= config.maxQueued {
                s.counters.dropped += 1
                return true
            }
            if tracked { s.pending += 1 }
            return false
        }
        if full { return }
        // Without the trailing newline: one MQTT message is one JSON document.
        let payloadLength = line.last == 0x0A ? line.count - 1 : line.count
        let rc = line.withUnsafeBytes { bytes in
            mosquitto_publish(mosq, nil, config.topic(forStream: stream), Int32(payloadLength), bytes.baseAddress,
                              Int32(config.qos), false)
        }
        if rc == MOSQ_ERR_SUCCESS.rawValue {
            state.withLock { $0.counters.records += 1 }
        } else if rc == MOSQ_ERR_NO_CONN.rawValue {
            // QoS 0 while disconnected: the message is gone.
            state.withLock { if tracked { $0.pending -= 1 }; $0.counters.dropped += 1 }
        } else {
            state.withLock { if tracked { $0.pending -= 1 }; $0.counters.errors += 1 }
            throw .failed("publish failed: \(Self.message(rc))")
        }
    }

    /// Waits for the broker to acknowledge what was published, until `deadline`.
    func flush(deadline: Double) {
        while Timestamp.monotonicSeconds() < deadline {
            let (pending, connected) = state.withLock { ($0.pending, $0.counters.connected ?? false) }
            if pending == 0 || !connected { return }
            usleep(5_000)
        }
    }

    func close() {
        wake.signal()
        let mosq: OpaquePointer? = connectLock.withLock { _ in
            defer { self.mosq = nil }
            return self.mosq
        }
        guard let mosq else { return }
        state.withLock { $0.counters.connected = false }
        mosquitto_disconnect(mosq)
        // The network thread ends at its next turn; while the broker is away that can be a
        // whole reconnect delay, so wait in the background and give up after 2 s (the process
        // may be about to exit; the client is then left to it).
        let stopped = DispatchSemaphore(value: 0)
        let box = UncheckedBox(mosq)
        Thread {
            mosquitto_loop_stop(box.value, false)
            mosquitto_destroy(box.value)
            stopped.signal()
        }.start()
        _ = stopped.wait(timeout: .now() + 2)
    }

    var counters: SinkCounters { state.withLock { $0.counters } }

    /// Messages waiting for the broker.
    var pending: Int { state.withLock { $0.pending } }

    private func connected(code: Int32) {
        if code == 0 {
            let again = state.withLock { s -> Bool in
                defer { s.everConnected = true; s.loggedDisconnect = false; s.counters.connected = true }
                if s.everConnected { s.counters.rotations += 1 }
                return s.everConnected
            }
            Log.shared.info("sink \(name): connected\(again ? " again" : "")")
        } else {
            let first = state.withLock { s -> Bool in
                defer { s.loggedDisconnect = true }
                return !s.loggedDisconnect
            }
            let reason = String(cString: mosquitto_connack_string(code))
            if first { Log.shared.warning("sink \(name): broker refused the connection: \(reason)") }
        }
    }

    private func disconnected(code: Int32) {
        let first = state.withLock { s -> Bool in
            defer { s.loggedDisconnect = true; s.counters.connected = false }
            return !s.loggedDisconnect
        }
        // 0: we asked for it (close).
        if code != 0, first {
            Log.shared.warning("sink \(name): disconnected (\(Self.message(code))); reconnecting, records queue up to \(config.maxQueued)")
        }
    }

    private func acknowledged() {
        guard config.qos > 0 else { return }
        state.withLock { $0.pending = max(0, $0.pending - 1) }
    }

    private static func message(_ code: Int32) -> String {
        String(cString: mosquitto_strerror(code))
    }

    /// For MOSQ_ERR_ERRNO the useful text is errno's.
    private static func reason(_ code: Int32) -> String {
        code == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : message(code)
    }
}

private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
