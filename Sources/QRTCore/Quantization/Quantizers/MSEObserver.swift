/// The clipping range that minimizes the expected quantization error (clipping + Δ²/12 rounding)
/// over a histogram of all calibration data, every value weighted equally. The histogram grows
/// (re-binning) to cover everything seen, so no value falls in a tail.
struct MSEObserver: ActivationObserver, Codable, Hashable {
    static let defaultBinCount = 2048

    let binCount: Int
    /// Coarse grid fractions per end of the range for `QuantizationErrorModel.optimalRange`.
    let searchGridSize: Int
    private(set) var histogram: Histogram?
    private(set) var observedRange: ClosedRange<Float>?

    init(binCount: Int = MSEObserver.defaultBinCount, searchGridSize: Int = 100) {
        precondition(binCount >= 1 && searchGridSize >= 1, "empty histogram or search grid")
        self.binCount = binCount
        self.searchGridSize = searchGridSize
    }

    mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        guard let batch = BatchExtremes(values).range else { return }
        observedRange = observedRange.map { Swift.min($0.lowerBound, batch.lowerBound)...Swift.max($0.upperBound, batch.upperBound) } ?? batch
        let (low, high) = (Double(Swift.min(batch.lowerBound, 0)), Double(Swift.max(batch.upperBound, 0)))
        if histogram == nil { histogram = Histogram(lower: low, upper: high, binCount: binCount) }
        histogram!.extend(toCover: low, high)
        histogram!.add(values, weight: 1)
    }

    func optimalClipping(bits: Int) -> QuantizationErrorModel.Choice? {
        histogram.map { QuantizationErrorModel($0).optimalRange(bits: bits, gridSize: searchGridSize) }
    }

    func clippingRange(bits: Int) -> ClosedRange<Float> { optimalClipping(bits: bits)?.range ?? 0...0 }
}
