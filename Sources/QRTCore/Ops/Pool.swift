/// The two poolings of the RT-DETR ResNet-vd backbone, on NHWC images ([height, width, channels],
/// batch 1), vectorized across channels.
enum Pool {
    typealias V = VectorMath.V

    /// Output size of `nn.MaxPool2d(kernel_size=3, stride=2, padding=1)` (the stem's pooler).
    static func max3x3Stride2Pad1OutputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height - 1) / 2 + 1, (width - 1) / 2 + 1)
    }

    /// `nn.MaxPool2d(3, stride: 2, padding: 1)`: the max over the part of each 3×3 window that lies
    /// inside the image (padding acts as −inf); NaN propagates as in torch.
    static func max3x3Stride2Pad1(_ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                                  into output: UnsafeMutablePointer<Float>) {
        let (outHeight, outWidth) = max3x3Stride2Pad1OutputSize(height: height, width: width)
        let vectorEnd = channels & ~15
        for oy in 0..<outHeight {
            let y0 = max(2 * oy - 1, 0), y1 = min(2 * oy + 2, height)
            for ox in 0..<outWidth {
                let x0 = max(2 * ox - 1, 0), x1 = min(2 * ox + 2, width)
                let out = output + (oy * outWidth + ox) * channels
                var c = 0
                while c < vectorEnd {
                    var m = V(repeating: -.infinity)
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let v = VectorMath.load(input + (y * width + x) * channels + c)
                            m = m.replacing(with: v, where: (v .> m) .| (v .!= v))
                        }
                    }
                    VectorMath.store(m, out + c)
                    c += 16
                }
                while c < channels {
                    var m = -Float.infinity
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let v = input[(y * width + x) * channels + c]
                            if v > m || v.isNaN { m = v }
                        }
                    }
                    out[c] = m
                    c += 1
                }
            }
        }
    }

    /// Output size of `nn.AvgPool2d(2, 2, 0, ceil_mode=True)`: ⌈n / 2⌉ per axis.
    static func average2x2Stride2CeilOutputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 1) / 2, (width + 1) / 2)
    }

    /// `nn.AvgPool2d(2, 2, 0, ceil_mode=True)` (count_include_pad=True by default) as the ResNet-vd
    /// shortcut uses it. With zero padding torch's divisor is the window clipped to the input, so
    /// the extra last row/column of an odd-sized input averages 2 (or 1) values, not 4. The sum runs
    /// in torch's order (row by row), so results are bit-identical.
    static func average2x2Stride2Ceil(_ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                                      into output: UnsafeMutablePointer<Float>) {
        let (outHeight, outWidth) = average2x2Stride2CeilOutputSize(height: height, width: width)
        let vectorEnd = channels & ~15
        for oy in 0..<outHeight {
            let y0 = 2 * oy, y1 = min(2 * oy + 2, height)
            for ox in 0..<outWidth {
                let x0 = 2 * ox, x1 = min(2 * ox + 2, width)
                let scale = 1 / Float((y1 - y0) * (x1 - x0))  // 1, ½ or ¼: exact
                let out = output + (oy * outWidth + ox) * channels
                var c = 0
                while c < vectorEnd {
                    var sum = V()
                    for y in y0..<y1 {
                        for x in x0..<x1 { sum += VectorMath.load(input + (y * width + x) * channels + c) }
                    }
                    VectorMath.store(sum * scale, out + c)
                    c += 16
                }
                while c < channels {
                    var sum: Float = 0
                    for y in y0..<y1 {
                        for x in x0..<x1 { sum += input[(y * width + x) * channels + c] }
                    }
                    out[c] = sum * scale
                    c += 1
                }
            }
        }
    }
}
