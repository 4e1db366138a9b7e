/// QRT-DETR's EMA-MSE quantizer: the activation distribution is tracked by an exponential moving
/// average, and the clipping range is the one with the least expected quantization error over it.
///
/// State: EMAs of the batch minimum and maximum (as in `EMAMinMaxObserver`) and a histogram whose
/// range follows them, [min(emaMin, 0), max(emaMax, 0)]. Each batch after the first:
/// 1. the EMAs move: r ← m·r + (1 − m)·batch;
/// 2. the histogram is re-binned onto the new range (mass leaving the core moves to tail bins);
/// 3. its masses decay by m, and the batch is added with each finite value weighing (1 − m).
///    Per value rather than per batch: a batch of three stray values must not weigh as much as a
///    whole feature map. Values beyond the EMA range land in the histogram's tail bins, so the
///    outliers and the tail that the EMA range lags behind still count at their true distance,
///    and the search may clip beyond the EMA range when covering them pays.
/// The first batch sets the EMAs to its extremes and the histogram to its counts. With batches of
/// equal size this is exactly the EMA of the batches' normalized distributions.
///
/// Codable: online requantization persists this state and keeps feeding it at run time.
struct EMAMSEObserver: ActivationObserver, Codable, Hashable {
    static let defaultBinCount = 2048

    let momentum: Double
    let binCount: Int
    let searchGridSize: Int
    private(set) var minimum: Double?
    private(set) var maximum: Double?
    private(set) var histogram: Histogram?
    private(set) var batchCount = 0

    init(momentum: Double = 0.9, binCount: Int = EMAMSEObserver.defaultBinCount, searchGridSize: Int = 100) {
        precondition((0..<1).contains(momentum), "EMA momentum \(momentum) not in [0, 1)")
        precondition(binCount >= 1 && searchGridSize >= 1, "empty histogram or search grid")
        self.momentum = momentum
        self.binCount = binCount
        self.searchGridSize = searchGridSize
    }

    mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        let batch = BatchExtremes(values)
        guard let range = batch.range else { return }
        let (low, high) = (Double(range.lowerBound), Double(range.upperBound))
        if let minimum, let maximum, var histogram {
            let (newMin, newMax) = (momentum * minimum + (1 - momentum) * low, momentum * maximum + (1 - momentum) * high)
            let (lower, upper) = (Swift.min(newMin, 0), Swift.max(newMax, 0))
            if lower != histogram.lower || upper != histogram.upper {
                histogram = histogram.rebinned(lower: lower, upper: upper)
            }
            histogram.scale(by: momentum)
            histogram.add(values, weight: 1 - momentum)
            (self.minimum, self.maximum, self.histogram) = (newMin, newMax, histogram)
        } else {
            var histogram = Histogram(lower: Swift.min(low, 0), upper: Swift.max(high, 0), binCount: binCount)
            histogram.add(values, weight: 1)
            (minimum, maximum, self.histogram) = (low, high, histogram)
        }
        batchCount += 1
    }

    var observedRange: ClosedRange<Float>? {
        guard let minimum, let maximum else { return nil }
        return Float(minimum)...Float(maximum)
    }

    func optimalClipping(bits: Int) -> QuantizationErrorModel.Choice? {
        histogram.map { QuantizationErrorModel($0).optimalRange(bits: bits, gridSize: searchGridSize) }
    }

    func clippingRange(bits: Int) -> ClosedRange<Float> { optimalClipping(bits: bits)?.range ?? 0...0 }

    /// The expected squared error per value of any parameters (say, the ones in service) over the
    /// tracked distribution: what online requantization compares a candidate against.
    func expectedSquaredError(_ parameters: QuantizationParameters) -> Double {
        histogram.map { QuantizationErrorModel($0).expectedSquaredError(parameters) } ?? 0
    }
}

extension EMAMSEObserver {
    private enum CodingKeys: String, CodingKey {
        case momentum, binCount, searchGridSize, minimum, maximum, histogram, batchCount
    }

    /// Persisted state is checked as strictly as a checkpoint: a bad field is named in the error.
    /// (`Swift.Decoder`: QRTCore has its own `Decoder`, the RT-DETR decoder.)
    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        momentum = try c.decode(Double.self, forKey: .momentum)
        binCount = try c.decode(Int.self, forKey: .binCount)
        searchGridSize = try c.decode(Int.self, forKey: .searchGridSize)
        minimum = try c.decodeIfPresent(Double.self, forKey: .minimum)
        maximum = try c.decodeIfPresent(Double.self, forKey: .maximum)
        histogram = try c.decodeIfPresent(Histogram.self, forKey: .histogram)
        batchCount = try c.decode(Int.self, forKey: .batchCount)
        func fail(_ key: CodingKeys, _ why: String) -> DecodingError {
            .dataCorruptedError(forKey: key, in: c, debugDescription: why)
        }
        guard (0..<1).contains(momentum) else { throw fail(.momentum, "not in [0, 1)") }
        guard binCount >= 1 else { throw fail(.binCount, "must be positive") }
        guard searchGridSize >= 1 else { throw fail(.searchGridSize, "must be positive") }
        guard batchCount >= 0 else { throw fail(.batchCount, "negative") }
        switch (minimum, maximum, histogram) {
        case (nil, nil, nil): break
        case let (min?, max?, histogram?):
            guard min.isFinite, max.isFinite, min <= max else { throw fail(.minimum, "EMA range \(min)...\(max) invalid") }
            guard histogram.binCount == binCount else { throw fail(.histogram, "\(histogram.binCount) bins, expected \(binCount)") }
        default: throw fail(.histogram, "minimum, maximum and histogram must be present together")
        }
    }
}
