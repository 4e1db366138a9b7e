/// Layout operations on NHWC images ([height, width, channels], batch 1) and, with `pixels` =
/// tokens, on [tokens, channels] sequences; plus `Tensor`-level wrappers of the poolings.
enum NHWC {
    /// `F.interpolate(scale_factor=2.0, mode="nearest")`: output [2H, 2W, C], out(y, x) = in(y/2, x/2).
    static func upsampleNearest2x(_ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                                  into output: UnsafeMutablePointer<Float>) {
        let outRow = 2 * width * channels
        for y in 0..<height {
            let even = output + 2 * y * outRow
            for x in 0..<width {
                let source = input + (y * width + x) * channels
                (even + 2 * x * channels).update(from: source, count: channels)
                (even + (2 * x + 1) * channels).update(from: source, count: channels)
            }
            (even + outRow).update(from: even, count: outRow)
        }
    }

    /// `torch.cat([a, b], dim=channels)`: output [pixels, channelsA + channelsB].
    static func concatChannels(_ a: UnsafePointer<Float>, channelsA: Int, _ b: UnsafePointer<Float>, channelsB: Int,
                               pixels: Int, into output: UnsafeMutablePointer<Float>) {
        copyChannels(from: a, channels: channelsA, start: 0, count: channelsA,
                     to: output, channels: channelsA + channelsB, start: 0, pixels: pixels)
        copyChannels(from: b, channels: channelsB, start: 0, count: channelsB,
                     to: output, channels: channelsA + channelsB, start: channelsA, pixels: pixels)
    }

    /// Copies channels [start, start + count) of every pixel into a contiguous [pixels, count] buffer.
    static func sliceChannels(_ input: UnsafePointer<Float>, channels: Int, start: Int, count: Int, pixels: Int,
                              into output: UnsafeMutablePointer<Float>) {
        copyChannels(from: input, channels: channels, start: start, count: count,
                     to: output, channels: count, start: 0, pixels: pixels)
    }

    /// The general strided copy behind concat and slice: for every pixel, `count` channels from
    /// `source[p, sourceStart...]` (row width `sourceChannels`) to `destination[p, destinationStart...]`.
    static func copyChannels(from source: UnsafePointer<Float>, channels sourceChannels: Int, start sourceStart: Int,
                             count: Int, to destination: UnsafeMutablePointer<Float>, channels destinationChannels: Int,
                             start destinationStart: Int, pixels: Int) {
        precondition(sourceStart >= 0 && sourceStart + count <= sourceChannels, "source channel range out of bounds")
        precondition(destinationStart >= 0 && destinationStart + count <= destinationChannels,
                     "destination channel range out of bounds")
        if count == sourceChannels && count == destinationChannels {
            destination.update(from: source, count: pixels * count)
            return
        }
        for p in 0..<pixels {
            (destination + p * destinationChannels + destinationStart)
                .update(from: source + p * sourceChannels + sourceStart, count: count)
        }
    }

    // MARK: Tensor wrappers ([H, W, C] tensors)

    static func maxPool3x3Stride2Shape(_ shape: [Int]) -> [Int] {
        precondition(shape.count == 3, "NHWC tensor expected, got shape \(shape)")
        let size = Pool.max3x3Stride2Pad1OutputSize(height: shape[0], width: shape[1])
        return [size.height, size.width, shape[2]]
    }

    /// `Pool.max3x3Stride2Pad1` on [H, W, C] tensors; `output` is reshaped to the result's shape.
    static func maxPool3x3Stride2(_ input: Tensor, into output: Tensor) {
        output.reshape(maxPool3x3Stride2Shape(input.shape))
        Pool.max3x3Stride2Pad1(input.data, height: input.shape[0], width: input.shape[1], channels: input.shape[2],
                               into: output.data)
    }

    static func averagePool2x2CeilShape(_ shape: [Int]) -> [Int] {
        precondition(shape.count == 3, "NHWC tensor expected, got shape \(shape)")
        let size = Pool.average2x2Stride2CeilOutputSize(height: shape[0], width: shape[1])
        return [size.height, size.width, shape[2]]
    }

    /// `Pool.average2x2Stride2Ceil` on [H, W, C] tensors; `output` is reshaped to the result's shape.
    static func averagePool2x2Ceil(_ input: Tensor, into output: Tensor) {
        output.reshape(averagePool2x2CeilShape(input.shape))
        Pool.average2x2Stride2Ceil(input.data, height: input.shape[0], width: input.shape[1],
                                   channels: input.shape[2], into: output.data)
    }

    static func upsampleNearest2xShape(_ shape: [Int]) -> [Int] {
        precondition(shape.count == 3, "NHWC tensor expected, got shape \(shape)")
        return [2 * shape[0], 2 * shape[1], shape[2]]
    }

    /// `upsampleNearest2x` on [H, W, C] tensors; `output` is reshaped to [2H, 2W, C].
    static func upsampleNearest2x(_ input: Tensor, into output: Tensor) {
        output.reshape(upsampleNearest2xShape(input.shape))
        upsampleNearest2x(input.data, height: input.shape[0], width: input.shape[1], channels: input.shape[2],
                          into: output.data)
    }

    /// Channel concat of two [H, W, Ca] and [H, W, Cb] tensors into [H, W, Ca + Cb].
    static func concatChannels(_ a: Tensor, _ b: Tensor, into output: Tensor) {
        precondition(a.shape.count == 3 && b.shape.count == 3 && a.shape[0...1] == b.shape[0...1],
                     "concat of mismatched NHWC shapes \(a.shape) and \(b.shape)")
        output.reshape([a.shape[0], a.shape[1], a.shape[2] + b.shape[2]])
        concatChannels(a.data, channelsA: a.shape[2], b.data, channelsB: b.shape[2], pixels: a.shape[0] * a.shape[1],
                       into: output.data)
    }
}
