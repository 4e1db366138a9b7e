/// Exponential moving averages of each batch's minimum and maximum: after the first batch (which
/// sets them), min ← m·min + (1 − m)·batchMin and likewise for max. Single outlier batches move
/// the range by only (1 − m) of their excess. With momentum m = 0.9 this is the usual EMA observer
/// (torch's MovingAverageMinMaxObserver with averaging_constant 0.1).
struct EMAMinMaxObserver: ActivationObserver, Codable, Hashable {
    let momentum: Double
    /// Kept in Double so that a long run of updates does not accumulate Float rounding.
    private(set) var minimum: Double?
    private(set) var maximum: Double?

    init(momentum: Double = 0.9) {
        precondition((0..<1).contains(momentum), "EMA momentum \(momentum) not in [0, 1)")
        self.momentum = momentum
    }

    mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        guard let batch = BatchExtremes(values).range else { return }
        minimum = minimum.map { momentum * $0 + (1 - momentum) * Double(batch.lowerBound) } ?? Double(batch.lowerBound)
        maximum = maximum.map { momentum * $0 + (1 - momentum) * Double(batch.upperBound) } ?? Double(batch.upperBound)
    }

    var observedRange: ClosedRange<Float>? {
        guard let minimum, let maximum else { return nil }
        return Float(minimum)...Float(maximum)
    }

    func clippingRange(bits: Int) -> ClosedRange<Float> { observedRange ?? 0...0 }
}
