/// Stage 2 of QRT's reconstruction: each quantized layer's input clipping range is searched
/// around its EMA-MSE range to minimize the error of the layer's fused output (convolution or
/// linear with its activation; residual sums excluded) against FP32, on cached calibration inputs.
/// The upper end is searched first, then the lower end of signed ranges, each over a grid of
/// multipliers; the current range is a candidate, so the error never rises.
struct ActivationRangeSearch {
    static let multipliers: [Float] = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.35, 1.5]

    let bits: Int

    /// Cached FP32 inputs of one layer with the FP32 outputs they produce.
    struct Samples {
        var inputs: [(values: [Float], shape: [Int])] = []
        var references: [[Float]] = []
    }

    /// Returns the relative error before and after, and sets the layer's best input parameters.
    func refine(_ layer: QuantizableLayer, samples: Samples) throws -> (before: Double, after: Double) {
        guard var quantization = layer.quantization else { return (0, 0) }
        let start = quantization.input.representableRange
        let probe = layer.makeProbe(weights: quantization.weights)
        func error(_ range: ClosedRange<Float>) throws -> Double {
            let candidate = QuantizationParameters.asymmetric(range: range, bits: bits)
            var noise = 0.0, signal = 0.0
            for (input, reference) in zip(samples.inputs, samples.references) {
                let output = try input.values.withUnsafeBufferPointer {
                    try probe.run($0.baseAddress!, shape: input.shape, inputQuantization: candidate)
                }
                for (r, o) in zip(reference, output) {
                    noise += Double(r - o) * Double(r - o)
                    signal += Double(r) * Double(r)
                }
            }
            return signal == 0 ? noise : noise / signal
        }
        let before = try error(start)
        var best = (range: start, error: before)
        if start.upperBound > 0 {
            for m in Self.multipliers where m != 1 {
                let range = best.range.lowerBound...(start.upperBound * m)
                let e = try error(range)
                if e < best.error { best = (range, e) }
            }
        }
        if start.lowerBound < 0 {
            let upper = best.range.upperBound
            for m in Self.multipliers where m != 1 {
                let range = (start.lowerBound * m)...upper
                let e = try error(range)
                if e < best.error { best = (range, e) }
            }
        }
        quantization.input = .asymmetric(range: best.range, bits: bits)
        layer.quantization = quantization
        return (before, best.error)
    }
}
