import Foundation
import Testing
@testable import QRTCore

extension OpsTests {
    @Suite struct DeformableAttentionTests {
        /// Float32 accumulation of up to levels·points·4 products of O(1) values.
        static let absolute = 2.0e-6

        struct Case {
            var levels: [(height: Int, width: Int)]
            var heads: Int, headDim: Int, queries: Int, points: Int
            var value: [Float], locations: [Float], weights: [Float]

            var tokens: Int { levels.reduce(0) { $0 + $1.height * $1.width } }

            init(levels: [(Int, Int)], heads: Int, headDim: Int, queries: Int, points: Int, seed: UInt64) {
                self.levels = levels.map { (height: $0.0, width: $0.1) }
                self.heads = heads; self.headDim = headDim; self.queries = queries; self.points = points
                var generator = OpsTests.SeededGenerator(seed: seed)
                let samples = queries * heads * levels.count * points
                value = generator.normal(levels.reduce(0) { $0 + $1.0 * $1.1 } * heads * headDim)
                locations = generator.uniform(2 * samples, in: -0.2...1.2)
                weights = generator.uniform(samples, in: 0...1)
            }

            func run() -> [Float] {
                var output = [Float](repeating: .nan, count: queries * heads * headDim)
                value.withUnsafeBufferPointer { v in
                    locations.withUnsafeBufferPointer { l in
                        weights.withUnsafeBufferPointer { w in
                            output.withUnsafeMutableBufferPointer {
                                DeformableAttention.sample(
                                    value: v.baseAddress!, levels: levels.map { SpatialShape(height: $0.height, width: $0.width) },
                                    heads: heads, headDim: headDim, locations: l.baseAddress!, weights: w.baseAddress!,
                                    queries: queries, points: points, into: $0.baseAddress!)
                            }
                        }
                    }
                }
                return output
            }

            /// `grid_sample(bilinear, zeros, align_corners=False)` at 2·loc − 1, written out in float64,
            /// then Σ weight · sample over levels × points.
            func reference() -> [Double] {
                var output = [Double](repeating: 0, count: queries * heads * headDim)
                for q in 0..<queries {
                    for h in 0..<heads {
                        var start = 0
                        for (l, level) in levels.enumerated() {
                            for p in 0..<points {
                                let s = ((q * heads + h) * levels.count + l) * points + p
                                let grid = (2 * Double(locations[2 * s]) - 1, 2 * Double(locations[2 * s + 1]) - 1)
                                let ix = ((grid.0 + 1) * Double(level.width) - 1) / 2
                                let iy = ((grid.1 + 1) * Double(level.height) - 1) / 2
                                let x0 = Int(Foundation.floor(ix)), y0 = Int(Foundation.floor(iy))
                                let fx = ix - Double(x0), fy = iy - Double(y0)
                                let corners = [(x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                                               (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)]
                                for (x, y, bilinear) in corners
                                where x >= 0 && x < level.width && y >= 0 && y < level.height {
                                    let token = start + y * level.width + x
                                    for d in 0..<headDim {
                                        output[(q * heads + h) * headDim + d] += Double(weights[s]) * bilinear
                                            * Double(value[(token * heads + h) * headDim + d])
                                    }
                                }
                            }
                            start += level.height * level.width
                        }
                    }
                }
                return output
            }
        }

        /// headDim 32 takes the register path; 20, 1 and 48 the generic one (with and without tails).
        @Test(arguments: [
            (32, 8, [(6, 5), (3, 3), (2, 1)], 4), (20, 3, [(2, 3), (5, 4)], 2), (1, 2, [(4, 4)], 3),
            (48, 1, [(7, 3), (1, 1), (2, 6)], 4),
        ])
        func matchesGridSampleReference(headDim: Int, heads: Int, levels: [(Int, Int)], points: Int) {
            let c = Case(levels: levels, heads: heads, headDim: headDim, queries: 7, points: points,
                         seed: UInt64(headDim * 100 + heads))
            OpsTests.expectClose(c.run(), c.reference(), absolute: Self.absolute, "deformable headDim \(headDim)")
        }

        /// One 3×4 level, v(y, x) = 1 + 4y + x in channel 0 (scaled by d + 1 in channel d): samples on
        /// the map's edges, exactly on pixel centres, at ix = −1 and ix = W (no corner in range), just
        /// outside with one corner in reach, far outside, and NaN.
        @Test(arguments: [32, 3])
        func gridSampleCornerCases(headDim: Int) {
            let (height, width) = (3, 4)
            var value = [Float]()
            for token in 0..<(height * width) { value += (0..<headDim).map { Float(1 + token) * Float($0 + 1) } }
            let cases: [(x: Float, y: Float, expected: Float)] = [
                (0, 0, 0.25 * 1),                       // top-left edge: ¼ of pixel (0, 0)
                (1, 1, 0.25 * 12),                      // bottom-right edge: ¼ of pixel (2, 3)
                (2.5 / 4, 1.5 / 3, 7),                  // centre of pixel (y 1, x 2)
                (0.5 / 4, 0.5 / 3, 1),                  // centre of the first pixel
                (3.5 / 4, 2.5 / 3, 12),                 // centre of the last pixel
                (-0.5 / 4, 0.5, 0),                     // ix = −1 exactly
                (1 + 0.5 / 4, 0.5, 0),                  // ix = W exactly
                (0.5 / 4, 0, 0.5 * 1),                  // on the top border above pixel (0, 0)
                (0, 1.5 / 3, 0.5 * 5),                  // on the left border beside pixel (1, 0)
                (1, 1.5 / 3, 0.5 * 8),                  // on the right border beside pixel (1, 3)
                (0.25, 1.0 / 3, (1 + 2 + 5 + 6) / 4),   // between four pixels
                (-0.0625, 0.5 / 3, 0.25 * 1),           // ix = −0.75: only the east corner, weight ¼
                (-5, 0.5, 0), (0.5, 9, 0), (.infinity, 0.5, 0), (.nan, 0.5, 0),
            ]
            var output = [Float](repeating: .nan, count: cases.count * headDim)
            let locations = cases.flatMap { [$0.x, $0.y] }
            let weights = [Float](repeating: 1, count: cases.count)
            value.withUnsafeBufferPointer { v in
                locations.withUnsafeBufferPointer { l in
                    weights.withUnsafeBufferPointer { w in
                        output.withUnsafeMutableBufferPointer {
                            DeformableAttention.sample(value: v.baseAddress!, levels: [SpatialShape(height: height, width: width)],
                                                       heads: 1, headDim: headDim, locations: l.baseAddress!,
                                                       weights: w.baseAddress!, queries: cases.count, points: 1,
                                                       into: $0.baseAddress!)
                        }
                    }
                }
            }
            for (i, c) in cases.enumerated() {
                for d in [0, headDim - 1] {
                    let want = c.expected * Float(d + 1)
                    #expect(abs(output[i * headDim + d] - want) <= 1e-5 * max(1, abs(want)),
                            "sample \(i) at (\(c.x), \(c.y)), channel \(d): \(output[i * headDim + d]) ≠ \(want)")
                }
            }
        }

        /// Splitting the queries (offset pointers, smaller count) gives the same rows.
        @Test func querySplitIsExact() {
            let c = Case(levels: [(5, 5), (2, 3)], heads: 2, headDim: 32, queries: 6, points: 2, seed: 99)
            let whole = c.run()
            var second = c
            let perQuery = c.heads * c.levels.count * c.points
            second.locations = Array(c.locations[(2 * 4 * perQuery)...])
            second.weights = Array(c.weights[(4 * perQuery)...])
            second.queries = 2
            #expect(second.run() == Array(whole[(4 * c.heads * c.headDim)...]))
        }
    }
}
