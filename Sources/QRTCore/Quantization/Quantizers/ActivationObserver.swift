/// Calibration statistics of one activation quant point, fed FP32 buffers batch by batch, turned
/// into asymmetric unsigned `QuantizationParameters` for a bit width on demand.
///
/// `clippingRange(bits:)` depends on the bit width for the MSE observers (fewer levels → coarser
/// steps → a tighter clip pays off), so it is a function; `observedRange` is what the statistics
/// saw (the EMA of batch extremes for the EMA observers). Non-finite values are ignored everywhere.
protocol ActivationObserver: Sendable {
    mutating func observe(_ values: UnsafeBufferPointer<Float>)
    /// The extremes tracked so far; nil before any finite value.
    var observedRange: ClosedRange<Float>? { get }
    /// The range to quantize with; 0...0 before any finite value.
    func clippingRange(bits: Int) -> ClosedRange<Float>
}

extension ActivationObserver {
    func parameters(bits: Int) -> QuantizationParameters {
        .asymmetric(range: clippingRange(bits: bits), bits: bits)
    }

    mutating func observe(_ values: [Float]) {
        values.withUnsafeBufferPointer { observe($0) }
    }
}

/// Count, minimum and maximum of a batch's finite values, in one pass.
struct BatchExtremes: Sendable {
    private(set) var count = 0
    private(set) var minimum = Float.infinity
    private(set) var maximum = -Float.infinity

    init(_ values: UnsafeBufferPointer<Float>) {
        for v in values where v.isFinite {
            count += 1
            minimum = Swift.min(minimum, v)
            maximum = Swift.max(maximum, v)
        }
    }

    var range: ClosedRange<Float>? { count > 0 ? minimum...maximum : nil }
}
