import Testing
@testable import QRTCore

extension OpsTests {
    /// Pools, upsampling and channel copies: the references index NHWC plainly, pixel by pixel,
    /// and the results must be bit-identical (same operations in the same order).
    @Suite struct LayoutTests {
        static func image(_ height: Int, _ width: Int, _ channels: Int, seed: UInt64) -> [Float] {
            var generator = OpsTests.SeededGenerator(seed: seed)
            return generator.normal(height * width * channels)
        }

        static func run(_ input: [Float], outputCount: Int,
                        _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
            var output = [Float](repeating: .nan, count: outputCount)
            input.withUnsafeBufferPointer { i in output.withUnsafeMutableBufferPointer { body(i.baseAddress!, $0.baseAddress!) } }
            return output
        }

        /// Sizes: even (the RT-DETR case), odd (ceil mode and padding edges), 1×1, channels with and
        /// without a 16-lane tail.
        static let shapes = [(8, 8, 64), (5, 7, 3), (7, 4, 19), (1, 1, 16), (2, 3, 33)]

        @Test(arguments: shapes)
        func maxPool3x3Stride2Pad1(height: Int, width: Int, channels: Int) {
            let input = Self.image(height, width, channels, seed: 1)
            let outHeight = (height + 2 - 3) / 2 + 1, outWidth = (width + 2 - 3) / 2 + 1
            #expect(Pool.max3x3Stride2Pad1OutputSize(height: height, width: width) == (outHeight, outWidth))
            var want = [Float](repeating: 0, count: outHeight * outWidth * channels)
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for c in 0..<channels {
                        var m = -Float.infinity
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                let y = oy * 2 - 1 + ky, x = ox * 2 - 1 + kx
                                if y >= 0 && y < height && x >= 0 && x < width {
                                    m = max(m, input[(y * width + x) * channels + c])
                                }
                            }
                        }
                        want[(oy * outWidth + ox) * channels + c] = m
                    }
                }
            }
            let got = Self.run(input, outputCount: want.count) {
                Pool.max3x3Stride2Pad1($0, height: height, width: width, channels: channels, into: $1)
            }
            #expect(got == want)
        }

        @Test func maxPoolPropagatesNaN() {
            var x = [Float](repeating: 1, count: 4 * 4 * 17)
            x[(1 * 4 + 1) * 17 + 3] = .nan    // vector lane
            x[(1 * 4 + 1) * 17 + 16] = .nan   // scalar tail
            let got = Self.run(x, outputCount: 2 * 2 * 17) {
                Pool.max3x3Stride2Pad1($0, height: 4, width: 4, channels: 17, into: $1)
            }
            #expect(got[3].isNaN && got[16].isNaN && got[0] == 1)
        }

        @Test(arguments: shapes)
        func averagePool2x2Stride2Ceil(height: Int, width: Int, channels: Int) {
            let x = Self.image(height, width, channels, seed: 2)
            // torch: out = ⌊(n − 2 + 1) / 2⌋ + 1 with ceil_mode, divisor = window clipped to the input.
            let outHeight = (height - 1) / 2 + 1, outWidth = (width - 1) / 2 + 1
            #expect(Pool.average2x2Stride2CeilOutputSize(height: height, width: width) == (outHeight, outWidth))
            var want = [Float](repeating: 0, count: outHeight * outWidth * channels)
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for c in 0..<channels {
                        var sum: Float = 0
                        var n = 0
                        for y in (2 * oy)..<min(2 * oy + 2, height) {
                            for x0 in (2 * ox)..<min(2 * ox + 2, width) {
                                sum += x[(y * width + x0) * channels + c]
                                n += 1
                            }
                        }
                        want[(oy * outWidth + ox) * channels + c] = sum / Float(n)
                    }
                }
            }
            let got = Self.run(x, outputCount: want.count) {
                Pool.average2x2Stride2Ceil($0, height: height, width: width, channels: channels, into: $1)
            }
            #expect(got == want)
        }

        @Test(arguments: shapes)
        func upsampleNearest2x(height: Int, width: Int, channels: Int) {
            let x = Self.image(height, width, channels, seed: 3)
            var want = [Float](repeating: 0, count: 4 * x.count)
            for y in 0..<(2 * height) {
                for x0 in 0..<(2 * width) {
                    for c in 0..<channels {
                        want[(y * 2 * width + x0) * channels + c] = x[((y / 2) * width + x0 / 2) * channels + c]
                    }
                }
            }
            let got = Self.run(x, outputCount: want.count) {
                NHWC.upsampleNearest2x($0, height: height, width: width, channels: channels, into: $1)
            }
            #expect(got == want)
        }

        @Test func concatAndSliceChannels() {
            let pixels = 13, ca = 5, cb = 16
            let a = Self.image(1, pixels, ca, seed: 4), b = Self.image(1, pixels, cb, seed: 5)
            var want = [Float]()
            for p in 0..<pixels {
                want.append(contentsOf: a[(p * ca)..<((p + 1) * ca)])
                want.append(contentsOf: b[(p * cb)..<((p + 1) * cb)])
            }
            let got = a.withUnsafeBufferPointer { a in
                Self.run(b, outputCount: want.count) {
                    NHWC.concatChannels(a.baseAddress!, channelsA: ca, $0, channelsB: cb, pixels: pixels, into: $1)
                }
            }
            #expect(got == want)
            // Slicing the concat back gives the parts; a full-width slice is a plain copy.
            #expect(Self.run(got, outputCount: a.count) {
                NHWC.sliceChannels($0, channels: ca + cb, start: 0, count: ca, pixels: pixels, into: $1)
            } == a)
            #expect(Self.run(got, outputCount: b.count) {
                NHWC.sliceChannels($0, channels: ca + cb, start: ca, count: cb, pixels: pixels, into: $1)
            } == b)
            #expect(Self.run(a, outputCount: a.count) {
                NHWC.sliceChannels($0, channels: ca, start: 0, count: ca, pixels: pixels, into: $1)
            } == a)
        }

        @Test func tensorWrappersReshapeTheirOutput() {
            let input = Tensor(shape: [5, 7, 3], values: Self.image(5, 7, 3, seed: 6))
            let pooled = Tensor(shape: [64])
            NHWC.maxPool3x3Stride2(input, into: pooled)
            #expect(pooled.shape == [3, 4, 3] && NHWC.maxPool3x3Stride2Shape(input.shape) == [3, 4, 3])
            NHWC.averagePool2x2Ceil(input, into: pooled)
            #expect(pooled.shape == [3, 4, 3] && NHWC.averagePool2x2CeilShape(input.shape) == [3, 4, 3])
            let up = Tensor(shape: [420])
            NHWC.upsampleNearest2x(input, into: up)
            #expect(up.shape == [10, 14, 3])
            let joined = Tensor(shape: [5 * 7 * 6])
            NHWC.concatChannels(input, input, into: joined)
            #expect(joined.shape == [5, 7, 6] && joined.data[3] == input.data[0])
        }
    }
}
