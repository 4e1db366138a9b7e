/// Chooses per-output-channel symmetric scales for a weight tensor [outputChannels,
/// elementsPerChannel] (OIHW / [out, in]).
///
/// `.minMax` maps each channel's max|w| to qmax. `.mse` tries scale = α·max|w|/qmax for α on a grid
/// in (0.5, 1] and keeps the α with the least Σ (w − fakeQuant(w))²: clipping a few large weights
/// buys a finer step for all the others, which matters most at 4 bits. α = 1 is on the grid and
/// ties keep the larger α, so MSE's error is never above MinMax's on any channel.
struct WeightQuantizer: Sendable, Hashable {
    enum ScaleSearch: Sendable, Hashable {
        case minMax
        /// α_k = 1 − k/(2·gridSize), k = 0..<gridSize.
        case mse(gridSize: Int)
    }

    static let defaultGridSize = 100

    let bits: Int
    let search: ScaleSearch

    init(bits: Int, search: ScaleSearch = .mse(gridSize: WeightQuantizer.defaultGridSize)) {
        precondition([4, 6, 8].contains(bits), "weight bit width \(bits) not 4, 6 or 8")
        if case .mse(let gridSize) = search { precondition(gridSize >= 1, "empty MSE grid") }
        self.bits = bits
        self.search = search
    }

    func quantization(of weights: UnsafeBufferPointer<Float>, outputChannels: Int) -> PerChannelWeightQuantization {
        precondition(outputChannels > 0 && weights.count % outputChannels == 0,
                     "\(weights.count) weights for \(outputChannels) channels")
        let perChannel = weights.count / outputChannels
        let scales = (0..<outputChannels).map { c in
            scale(for: UnsafeBufferPointer(rebasing: weights[c * perChannel..<(c + 1) * perChannel]))
        }
        return PerChannelWeightQuantization(bits: bits, scales: scales)
    }

    /// Scales by this search, then round-to-nearest levels.
    func quantize(_ weights: UnsafeBufferPointer<Float>, outputChannels: Int) -> QuantizedWeights {
        quantization(of: weights, outputChannels: outputChannels).quantize(weights)
    }

    /// One channel's scale. Non-finite weights are a loader bug, not data to tolerate.
    func scale(for channel: UnsafeBufferPointer<Float>) -> Float {
        var maxMagnitude: Float = 0
        for w in channel {
            precondition(w.isFinite, "non-finite weight")
            maxMagnitude = Swift.max(maxMagnitude, w.magnitude)
        }
        let minMax = QuantizationParameters.symmetric(maxMagnitude: maxMagnitude, bits: bits)
        guard case .mse(let gridSize) = search, maxMagnitude > 0 else { return minMax.scale }
        var best = (scale: minMax.scale, error: Self.squaredError(channel, minMax))
        for k in 1..<gridSize {
            let alpha = 1 - Float(k) / Float(2 * gridSize)
            let candidate = QuantizationParameters.symmetric(maxMagnitude: alpha * maxMagnitude, bits: bits)
            let error = Self.squaredError(channel, candidate)
            if error < best.error { best = (candidate.scale, error) }
        }
        return best.scale
    }

    /// Σ (w − fakeQuant(w))² in Double, the quantity the search minimizes.
    static func squaredError(_ values: UnsafeBufferPointer<Float>, _ parameters: QuantizationParameters) -> Double {
        var sum = 0.0
        for w in values {
            let e = Double(w) - Double(parameters.fakeQuantize(w))
            sum += e * e
        }
        return sum
    }
}
