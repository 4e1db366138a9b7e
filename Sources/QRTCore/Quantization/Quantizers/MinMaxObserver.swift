/// The running minimum and maximum of everything seen: the baseline every other observer is
/// compared with. One outlier stretches the range for all values, which is what the others fix.
struct MinMaxObserver: ActivationObserver, Codable, Hashable {
    private(set) var observedRange: ClosedRange<Float>?

    init() {}

    mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        guard let batch = BatchExtremes(values).range else { return }
        observedRange = observedRange.map { Swift.min($0.lowerBound, batch.lowerBound)...Swift.max($0.upperBound, batch.upperBound) } ?? batch
    }

    func clippingRange(bits: Int) -> ClosedRange<Float> { observedRange ?? 0...0 }
}
