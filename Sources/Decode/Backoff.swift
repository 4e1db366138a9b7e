/// Exponential reconnect delays with jitter: attempt 1 waits about `minimum`, each further
/// attempt doubles it up to `maximum`, and every delay is spread by ± `jitter` (a fraction).
struct Backoff: Sendable, Equatable {
    let minimum: Double
    let maximum: Double
    let jitter: Double

    /// The delay before attempt `attempt` (1-based); `random` is uniform in 0..<1.
    func delay(attempt: Int, random: Double) -> Double {
        let exponent = Double(min(max(attempt - 1, 0), 62))
        let base = min(maximum, minimum * Double.pow2(exponent))
        let spread = base * jitter * (2 * random - 1)
        return min(maximum, max(0, base + spread))
    }

    func delay(attempt: Int) -> Double {
        delay(attempt: attempt, random: Double.random(in: 0..<1))
    }
}

extension Double {
    fileprivate static func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 2; if result > 1e18 { break } }
        return result
    }
}
