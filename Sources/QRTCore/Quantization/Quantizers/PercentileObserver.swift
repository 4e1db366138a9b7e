/// Clips at a percentile of the calibration data, read from a histogram that grows (re-binning)
/// to cover everything seen: `.bothTails` takes the (100 − p)th and pth percentiles of x,
/// `.magnitude` clips both sides at the pth percentile of |x|. The default 99.99 drops about one
/// value in 10⁴ per side, enough to ignore rare outliers while keeping the bulk of a long tail.
/// Quantiles are exact up to the histogram's bin width (plus re-binning blur).
struct PercentileObserver: ActivationObserver, Codable, Hashable {
    enum Mode: String, Codable, Sendable { case bothTails, magnitude }

    static let defaultBinCount = 2048

    /// In percent, e.g. 99.99.
    let percentile: Double
    let mode: Mode
    let binCount: Int
    private(set) var histogram: Histogram?
    private(set) var observedRange: ClosedRange<Float>?

    init(percentile: Double = 99.99, mode: Mode = .bothTails, binCount: Int = PercentileObserver.defaultBinCount) {
        precondition(percentile > 50 && percentile <= 100, "percentile \(percentile) not in (50, 100]")
        precondition(binCount >= 1, "a histogram needs a bin")
        self.percentile = percentile
        self.mode = mode
        self.binCount = binCount
    }

    mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        guard let batch = BatchExtremes(values).range else { return }
        observedRange = observedRange.map { Swift.min($0.lowerBound, batch.lowerBound)...Swift.max($0.upperBound, batch.upperBound) } ?? batch
        let (low, high) = mode == .magnitude
            ? (0, Double(Swift.max(batch.lowerBound.magnitude, batch.upperBound.magnitude)))
            : (Double(Swift.min(batch.lowerBound, 0)), Double(Swift.max(batch.upperBound, 0)))
        if histogram == nil { histogram = Histogram(lower: low, upper: high, binCount: binCount) }
        histogram!.extend(toCover: low, high)
        histogram!.add(values, weight: 1, magnitudes: mode == .magnitude)
    }

    /// Within the observed range: a quantile never reaches past the data.
    func clippingRange(bits: Int) -> ClosedRange<Float> {
        guard let histogram, let observed = observedRange else { return 0...0 }
        let p = percentile / 100
        let (low, high): (Double, Double) = mode == .magnitude
            ? (-histogram.quantile(p), histogram.quantile(p))
            : (histogram.quantile(1 - p), histogram.quantile(p))
        let lower = Swift.max(Float(low), observed.lowerBound)
        return lower...Swift.max(Swift.min(Float(high), observed.upperBound), lower)
    }
}
