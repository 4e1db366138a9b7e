import Foundation
import Testing
@testable import QRTCore

/// oneDNN-backed kernels against plain scalar references.
struct KernelFP32Tests {
    private func pseudoRandom(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        }
    }

    /// The last case has 16-multiple channels, which takes the Winograd path (blocked layout, reorders).
    @Test(arguments: [(kernel: 3, stride: 2, size: 9, cin: 5, cout: 7), (kernel: 1, stride: 1, size: 6, cin: 5, cout: 7),
                      (kernel: 3, stride: 1, size: 5, cin: 5, cout: 7), (kernel: 3, stride: 1, size: 11, cin: 32, cout: 48)])
    func convolutionMatchesDirectLoop(kernel: Int, stride: Int, size: Int, cin: Int, cout: Int) throws {
        let padding = (kernel - 1) / 2
        let weights = pseudoRandom(cout * cin * kernel * kernel, seed: 1)
        let bias = pseudoRandom(cout, seed: 2)
        let input = Tensor(shape: [size, size, cin], values: pseudoRandom(size * size * cin, seed: 3))
        let residual = pseudoRandom(((size + 2 * padding - kernel) / stride + 1) * ((size + 2 * padding - kernel) / stride + 1) * cout, seed: 4)
        let conv = ConvolutionFP32(name: "test", weightsOIHW: weights, bias: bias, inChannels: cin, outChannels: cout,
                                   kernel: kernel, stride: stride, padding: padding, postOps: [.sum, .relu])
        let out = conv.outputSize(height: size, width: size)
        let output = Tensor(shape: [out.height, out.width, cout], values: residual)
        try conv.run(input, into: output)

        for oy in 0..<out.height {
            for ox in 0..<out.width {
                for o in 0..<cout {
                    var sum = Double(bias[o])
                    for ky in 0..<kernel {
                        for kx in 0..<kernel {
                            let (iy, ix) = (oy * stride + ky - padding, ox * stride + kx - padding)
                            guard iy >= 0, iy < size, ix >= 0, ix < size else { continue }
                            for i in 0..<cin {
                                sum += Double(weights[((o * cin + i) * kernel + ky) * kernel + kx])
                                    * Double(input.data[(iy * size + ix) * cin + i])
                            }
                        }
                    }
                    let index = (oy * out.width + ox) * cout + o
                    let expected = max(0, sum + Double(residual[index]))
                    #expect(abs(Double(output.data[index]) - expected) < 1e-4, "at \(oy),\(ox),\(o)")
                }
            }
        }
    }

    /// SiLU then a residual sum (the encoder's CSP blocks): AVX2 kernels take no sum after an
    /// activation, so the sum runs separately there instead of on oneDNN's reference code.
    @Test func activationThenSumMatchesDirectLoopOnAJITKernel() throws {
        let (size, cin, cout) = (10, 32, 48)
        let weights = pseudoRandom(cout * cin * 9, seed: 7)
        let bias = pseudoRandom(cout, seed: 8)
        let input = Tensor(shape: [size, size, cin], values: pseudoRandom(size * size * cin, seed: 9))
        let residual = pseudoRandom(size * size * cout, seed: 10)
        let conv = ConvolutionFP32(name: "test", weightsOIHW: weights, bias: bias, inChannels: cin, outChannels: cout,
                                   kernel: 3, stride: 1, padding: 1, postOps: [.silu, .sum])
        let output = Tensor(shape: [size, size, cout], values: residual)
        try conv.run(input, into: output)
        #expect(try !conv.runsReferenceCode(height: size, width: size))
        var worst = 0.0
        for y in 0..<size {
            for x in 0..<size {
                for o in 0..<cout {
                    var sum = Double(bias[o])
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            let (iy, ix) = (y + ky - 1, x + kx - 1)
                            guard iy >= 0, iy < size, ix >= 0, ix < size else { continue }
                            for i in 0..<cin {
                                sum += Double(weights[((o * cin + i) * 3 + ky) * 3 + kx]) * Double(input.data[(iy * size + ix) * cin + i])
                            }
                        }
                    }
                    let index = (y * size + x) * cout + o
                    let expected = sum / (1 + exp(-sum)) + Double(residual[index])
                    worst = max(worst, abs(Double(output.data[index]) - expected))
                }
            }
        }
        #expect(worst < 1e-4)
    }

    @Test func linearMatchesDirectLoop() throws {
        let (rows, inFeatures, outFeatures) = (13, 24, 10)
        let weights = pseudoRandom(outFeatures * inFeatures, seed: 5)
        let bias = pseudoRandom(outFeatures, seed: 6)
        let input = Tensor(shape: [rows, inFeatures], values: pseudoRandom(rows * inFeatures, seed: 7))
        let linear = LinearFP32(name: "test", weights: weights, bias: bias, inFeatures: inFeatures,
                                outFeatures: outFeatures, postOps: [.gelu])
        let output = Tensor(shape: [rows, outFeatures])
        try linear.run(input, into: output)
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var sum = Double(bias[o])
                for i in 0..<inFeatures { sum += Double(weights[o * inFeatures + i]) * Double(input.data[r * inFeatures + i]) }
                let gelu = 0.5 * sum * (1 + erf(sum / 2.0.squareRoot()))
                #expect(abs(Double(output.data[r * outFeatures + o]) - gelu) < 1e-5)
            }
        }
    }

    @Test func attentionMatchesDirectLoop() throws {
        let (tokens, heads, channels) = (11, 2, 8)
        let d = channels / heads
        let q = pseudoRandom(tokens * channels, seed: 8), k = pseudoRandom(tokens * channels, seed: 9)
        let v = pseudoRandom(tokens * channels, seed: 10)
        var scores = [Float](repeating: 0, count: heads * tokens * tokens)
        var output = [Float](repeating: 0, count: tokens * channels)
        try AttentionFP32(heads: heads, channels: channels).run(
            query: q, key: k, value: v, tokens: tokens, scores: &scores, output: &output)
        for h in 0..<heads {
            for t in 0..<tokens {
                var logits = (0..<tokens).map { s in
                    (0..<d).reduce(0.0) { $0 + Double(q[t * channels + h * d + $1]) * Double(k[s * channels + h * d + $1]) }
                }
                let m = logits.max()!
                logits = logits.map { exp($0 - m) }
                let total = logits.reduce(0, +)
                for j in 0..<d {
                    let expected = (0..<tokens).reduce(0.0) { $0 + logits[$1] / total * Double(v[$1 * channels + h * d + j]) }
                    #expect(abs(Double(output[t * channels + h * d + j]) - expected) < 1e-5)
                }
            }
        }
    }
}
