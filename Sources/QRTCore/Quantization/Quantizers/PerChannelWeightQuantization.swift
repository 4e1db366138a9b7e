/// Symmetric per-output-channel weight quantization: one scale per output channel, zero point 0,
/// levels in [−qmax, qmax] with qmax = 2^(b−1) − 1 (127, 31, 7 for 8, 6, 4 bits) — what oneDNN's
/// s8 weights with a per-channel output-scale mask take. Weights are [outputChannels,
/// elementsPerChannel] row-major, i.e. PyTorch's OIHW convolutions and [out, in] linear layers.
struct PerChannelWeightQuantization: Codable, Sendable, Hashable {
    let bits: Int
    let scales: [Float]

    init(bits: Int, scales: [Float]) {
        precondition([4, 6, 8].contains(bits), "weight bit width \(bits) not 4, 6 or 8")
        precondition(!scales.isEmpty, "no output channels")
        precondition(scales.allSatisfy { $0.isFinite && $0 >= QuantizationParameters.minimumScale },
                     "weight scales must be positive and finite")
        self.bits = bits
        self.scales = scales
    }

    var qmax: Int32 { Int32(1) << (bits - 1) - 1 }
    var outputChannels: Int { scales.count }

    func parameters(channel: Int) -> QuantizationParameters {
        QuantizationParameters(scale: scales[channel], zeroPoint: 0, qmin: -qmax, qmax: qmax)
    }

    /// Rounds to nearest (even on ties) with each channel's scale. Reconstruction (GPTQ-style
    /// stage 1) chooses its own levels and builds `QuantizedWeights` from them instead.
    func quantize(_ weights: UnsafeBufferPointer<Float>) -> QuantizedWeights {
        precondition(weights.count % outputChannels == 0, "\(weights.count) weights for \(outputChannels) channels")
        let perChannel = weights.count / outputChannels
        var levels = [Int8](repeating: 0, count: weights.count)
        levels.withUnsafeMutableBufferPointer { out in
            for c in 0..<outputChannels {
                let rows = c * perChannel..<(c + 1) * perChannel
                parameters(channel: c).quantize(UnsafeBufferPointer(rebasing: weights[rows]),
                                                into: UnsafeMutableBufferPointer(rebasing: out[rows]))
            }
        }
        return QuantizedWeights(quantization: self, elementsPerChannel: perChannel, levels: levels)
    }

    /// Quantize-dequantize in place, channel by channel: the fake-quant executor's weights.
    func fakeQuantize(_ weights: UnsafeMutableBufferPointer<Float>) {
        precondition(weights.count % outputChannels == 0, "\(weights.count) weights for \(outputChannels) channels")
        let perChannel = weights.count / outputChannels
        for c in 0..<outputChannels {
            parameters(channel: c).fakeQuantize(UnsafeMutableBufferPointer(rebasing: weights[c * perChannel..<(c + 1) * perChannel]))
        }
    }
}
