import Foundation
import Testing
@testable import QRTCore

extension QuantizerTests {
    @Suite struct WeightTests {
        @Test func int4PackRoundTripsAllValues() {
            let all = (Int8(-8)...7).flatMap { a in (Int8(-8)...7).map { b in [a, b] } }.flatMap { $0 }
            let packed = Int4Packing.pack(all)
            #expect(packed.count == 256)
            #expect(Int4Packing.unpack(packed, count: all.count) == all)
            // Every byte value appears exactly once, and its layout is low nibble first.
            #expect(Set(packed).count == 256)
            #expect(Int4Packing.pack([1, -1]) == [0xF1])
            #expect(Int4Packing.pack([-8, 7]) == [0x78])
            for v in Int8(-8)...7 {
                let odd = Int4Packing.pack([3, v, v])
                #expect(odd.count == 2 && odd[1] >> 4 == 0, "odd count pads the last high nibble with 0")
                #expect(Int4Packing.unpack(odd, count: 3) == [3, v, v])
            }
        }

        @Test(arguments: [4, 6, 8])
        func storageWidensExactly(bits: Int) throws {
            var random = Random(seed: 42 + UInt64(bits))
            let channels = 5, perChannel = 7  // odd count: 4-bit padding
            let weights = random.laplace(channels * perChannel, b: 0.05)
            let quantizer = WeightQuantizer(bits: bits)
            let q = weights.withUnsafeBufferPointer { quantizer.quantize($0, outputChannels: channels) }
            #expect(q.storage.count == (bits == 4 ? 18 : 35))
            let levels = q.widenedToInt8()
            let dequantized = q.dequantized()
            let quantization = q.quantization
            for c in 0..<channels {
                let p = quantization.parameters(channel: c)
                for i in c * perChannel..<(c + 1) * perChannel {
                    #expect(Int32(levels[i]) == p.quantize(weights[i]))
                    #expect(dequantized[i] == p.fakeQuantize(weights[i]))
                }
            }
            var fake = weights
            fake.withUnsafeMutableBufferPointer { quantization.fakeQuantize($0) }
            #expect(fake == dequantized)
            let reloaded = try QuantizedWeights(quantization: quantization, elementsPerChannel: perChannel, storage: q.storage)
            #expect(reloaded == q)
        }

        @Test func storageRejectsBadBytes() {
            let four = PerChannelWeightQuantization(bits: 4, scales: [1, 1])
            #expect(throws: QuantizedWeights.LayoutError.byteCount(expected: 3, found: 2)) {
                try QuantizedWeights(quantization: four, elementsPerChannel: 3, storage: [0, 0])
            }
            #expect(throws: QuantizedWeights.LayoutError.levelOutOfRange(index: 1, level: -8, qmax: 7)) {
                try QuantizedWeights(quantization: four, elementsPerChannel: 3, storage: [0x80, 0, 0])
            }
            #expect(throws: QuantizedWeights.LayoutError.nonZeroPadding) {
                try QuantizedWeights(quantization: PerChannelWeightQuantization(bits: 4, scales: [1]), elementsPerChannel: 3,
                                     storage: [0, 0x10])
            }
            let eight = PerChannelWeightQuantization(bits: 8, scales: [1])
            #expect(throws: QuantizedWeights.LayoutError.levelOutOfRange(index: 0, level: -128, qmax: 127)) {
                try QuantizedWeights(quantization: eight, elementsPerChannel: 1, storage: [0x80])
            }
            let six = PerChannelWeightQuantization(bits: 6, scales: [1])
            #expect(throws: QuantizedWeights.LayoutError.levelOutOfRange(index: 0, level: 32, qmax: 31)) {
                try QuantizedWeights(quantization: six, elementsPerChannel: 1, storage: [32])
            }
        }

        /// Plain reference of the search: every α of the same grid, error summed in Double.
        static func referenceScale(_ channel: [Float], bits: Int, gridSize: Int) -> (scale: Float, error: Double) {
            let maxMagnitude = channel.map(\.magnitude).max()!
            return (0..<gridSize).map { k -> (Float, Double) in
                let p = QuantizationParameters.symmetric(maxMagnitude: (1 - Float(k) / Float(2 * gridSize)) * maxMagnitude, bits: bits)
                return (p.scale, channel.reduce(0.0) { let e = Double($1) - Double(p.fakeQuantize($1)); return $0 + e * e })
            }.min { $0.1 < $1.1 }!
        }

        /// Long-tailed weights (Laplace, a few large ones per channel): the MSE scale is the grid's
        /// optimum, never worse than MinMax on any channel, and better overall at 4 bits (α ≥ 0.5 bounds the gain).
        @Test(arguments: [4, 6, 8])
        func mseScaleBeatsMinMaxOnEveryChannel(bits: Int) {
            var random = Random(seed: 7 * UInt64(bits))
            let channels = 16, perChannel = 144
            var weights = random.laplace(channels * perChannel, b: 0.02)
            for c in 0..<channels where c % 3 == 0 { weights[c * perChannel + c] = 0.4 }
            let mse = weights.withUnsafeBufferPointer { WeightQuantizer(bits: bits).quantization(of: $0, outputChannels: channels) }
            let minMax = weights.withUnsafeBufferPointer {
                WeightQuantizer(bits: bits, search: .minMax).quantization(of: $0, outputChannels: channels)
            }
            var (totalMSE, totalMinMax) = (0.0, 0.0)
            for c in 0..<channels {
                let channel = Array(weights[c * perChannel..<(c + 1) * perChannel])
                let errorMSE = channel.withUnsafeBufferPointer { WeightQuantizer.squaredError($0, mse.parameters(channel: c)) }
                let errorMinMax = channel.withUnsafeBufferPointer { WeightQuantizer.squaredError($0, minMax.parameters(channel: c)) }
                #expect(errorMSE <= errorMinMax, "channel \(c): \(errorMSE) > MinMax \(errorMinMax)")
                #expect(minMax.scales[c] == channel.map(\.magnitude).max()! / Float(minMax.qmax))
                let reference = Self.referenceScale(channel, bits: bits, gridSize: WeightQuantizer.defaultGridSize)
                #expect(mse.scales[c] == reference.scale && abs(errorMSE - reference.error) <= 1e-12 * reference.error,
                        "channel \(c)")
                totalMSE += errorMSE
                totalMinMax += errorMinMax
            }
            if bits == 4 { #expect(totalMSE < 0.9 * totalMinMax, "4-bit MSE \(totalMSE) vs MinMax \(totalMinMax)") }
        }

        @Test func zeroChannel() {
            let weights: [Float] = [0, 0, 0, 0.5, -1, 0.25]
            let q = weights.withUnsafeBufferPointer { WeightQuantizer(bits: 4).quantize($0, outputChannels: 2) }
            #expect(q.quantization.scales[0] == QuantizationParameters.minimumScale)
            #expect(Array(q.widenedToInt8()[0..<3]) == [0, 0, 0])
            #expect(Array(q.dequantized()[0..<3]) == [0, 0, 0])
        }
    }
}
