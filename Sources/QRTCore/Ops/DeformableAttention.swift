/// The core of multi-scale deformable attention: transformers' pure-PyTorch
/// `MultiScaleDeformableAttention.forward` (bilinear `grid_sample` per level, then the
/// attention-weighted sum over levels × points), fused into one pass per (query, head).
enum DeformableAttention {
    typealias V = VectorMath.V

    /// - Parameters:
    ///   - value: [S, heads, headDim], S = Σ levels[l].height · width, levels concatenated in order,
    ///     each row-major (the `value_proj` output viewed per head).
    ///   - locations: [queries, heads, levels, points, 2], normalized (x, y): 0 and 1 are the outer
    ///     edges of the map (`align_corners=False`).
    ///   - weights: [queries, heads, levels, points], already softmaxed over levels × points.
    ///   - output: [queries, heads · headDim].
    ///
    /// Each sample equals `grid_sample(mode='bilinear', padding_mode='zeros', align_corners=False)`
    /// at grid = 2·loc − 1: pixel coordinate ix = ((g + 1)·W − 1) / 2 (bit-identical to torch's
    /// `(g + 1)·W/2 − 0.5`), corners ⌊ix⌋ and ⌊ix⌋ + 1, corners outside the map contribute zero.
    /// Queries are independent: to split work, offset `locations`, `weights` and `output` by whole
    /// queries and pass a smaller `queries`. Scratch for the corner list (4·levels·points offsets and
    /// weights) lives on the stack.
    static func sample(value: UnsafePointer<Float>, levels: [SpatialShape], heads: Int, headDim: Int,
                       locations: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                       queries: Int, points: Int, into output: UnsafeMutablePointer<Float>) {
        let rowStride = heads * headDim
        let samplesPerHead = levels.count * points
        let maxTaps = 4 * samplesPerHead
        // Per (query, head): first the in-bounds corners ("taps": value offset, combined weight),
        // then one pass over them per 16 channels with the accumulators in registers.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: maxTaps) { offsets in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: maxTaps) { tapWeights in
                levels.withUnsafeBufferPointer { levels in
                    let offsets = offsets.baseAddress!, tapWeights = tapWeights.baseAddress!
                    for q in 0..<queries {
                        for h in 0..<heads {
                            let cell = q * heads + h
                            let taps = gatherTaps(levels, points: points, location: locations + 2 * cell * samplesPerHead,
                                                  weight: weights + cell * samplesPerHead, rowStride: rowStride,
                                                  offsets: offsets, tapWeights: tapWeights)
                            accumulate(value + h * headDim, headDim: headDim, taps: taps, offsets: offsets,
                                       tapWeights: tapWeights, into: output + q * rowStride + h * headDim)
                        }
                    }
                }
            }
        }
    }

    /// Writes the in-bounds bilinear corners of every sample of one (query, head): the offset of the
    /// corner's values from the head's first value, and attention weight × bilinear weight.
    /// Returns how many were written (at most 4 per sample).
    @inline(__always)
    private static func gatherTaps(_ levels: UnsafeBufferPointer<SpatialShape>, points: Int,
                                   location: UnsafePointer<Float>, weight: UnsafePointer<Float>, rowStride: Int,
                                   offsets: UnsafeMutablePointer<Int>, tapWeights: UnsafeMutablePointer<Float>) -> Int {
        var taps = 0
        @inline(__always) func add(_ offset: Int, _ w: Float) {
            offsets[taps] = offset
            tapWeights[taps] = w
            taps += 1
        }
        var levelStart = 0
        var s = 0
        for level in levels {
            let width = level.width, height = level.height
            let fw = Float(width), fh = Float(height)
            for _ in 0..<points {
                let gx = 2 * location[2 * s] - 1, gy = 2 * location[2 * s + 1] - 1
                let ix = ((gx + 1) * fw - 1) / 2
                let iy = ((gy + 1) * fh - 1) / 2
                let a = weight[s]
                s += 1
                // Outside (-1, W) × (-1, H) no corner is in bounds (NaN lands here too).
                guard ix > -1, ix < fw, iy > -1, iy < fh else { continue }
                let xf = ix.rounded(.down), yf = iy.rounded(.down)
                let x0 = Int(xf), y0 = Int(yf)
                let east = ix - xf, south = iy - yf
                let west = 1 - east, north = 1 - south
                let corner = (levelStart + y0 * width + x0) * rowStride
                let down = width * rowStride
                if x0 >= 0 && x0 + 1 < width && y0 >= 0 && y0 + 1 < height {
                    add(corner, a * (north * west))
                    add(corner + rowStride, a * (north * east))
                    add(corner + down, a * (south * west))
                    add(corner + down + rowStride, a * (south * east))
                } else {
                    let hasWest = x0 >= 0, hasEast = x0 + 1 < width
                    if y0 >= 0 {
                        if hasWest { add(corner, a * (north * west)) }
                        if hasEast { add(corner + rowStride, a * (north * east)) }
                    }
                    if y0 + 1 < height {
                        if hasWest { add(corner + down, a * (south * west)) }
                        if hasEast { add(corner + down + rowStride, a * (south * east)) }
                    }
                }
            }
            levelStart += level.count
        }
        return taps
    }

    /// out[d] = Σ tapWeights[t] · head[offsets[t] + d], 16 channels at a time (32 in one pass).
    @inline(__always)
    private static func accumulate(_ head: UnsafePointer<Float>, headDim: Int, taps: Int,
                                   offsets: UnsafePointer<Int>, tapWeights: UnsafePointer<Float>,
                                   into out: UnsafeMutablePointer<Float>) {
        var d = 0
        if headDim == 32 {
            // Two taps per step into separate accumulators: four independent FMA chains.
            var low = V(), high = V(), low2 = V(), high2 = V()
            var t = 0
            while t + 2 <= taps {
                let row = head + offsets[t], row2 = head + offsets[t + 1]
                let w = V(repeating: tapWeights[t]), w2 = V(repeating: tapWeights[t + 1])
                low = low.addingProduct(VectorMath.load(row), w)
                high = high.addingProduct(VectorMath.load(row + 16), w)
                low2 = low2.addingProduct(VectorMath.load(row2), w2)
                high2 = high2.addingProduct(VectorMath.load(row2 + 16), w2)
                t += 2
            }
            if t < taps {
                let row = head + offsets[t], w = V(repeating: tapWeights[t])
                low = low.addingProduct(VectorMath.load(row), w)
                high = high.addingProduct(VectorMath.load(row + 16), w)
            }
            VectorMath.store(low + low2, out)
            VectorMath.store(high + high2, out + 16)
            return
        }
        while d + 16 <= headDim {
            var sum = V()
            for t in 0..<taps {
                sum = sum.addingProduct(VectorMath.load(head + offsets[t] + d), V(repeating: tapWeights[t]))
            }
            VectorMath.store(sum, out + d)
            d += 16
        }
        while d < headDim {
            var sum: Float = 0
            for t in 0..<taps { sum = sum.addingProduct(tapWeights[t], head[offsets[t] + d]) }
            out[d] = sum
            d += 1
        }
    }
}
