import Foundation
import Testing
@testable import QRTCore

extension OpsTests {
    /// Position embedding and anchors against a float64 restatement of transformers' formulas.
    @Suite struct EmbeddingTests {
        static let embeddingAbsolute = 1.0e-7   // float64 math rounded once to float32
        /// float32 logit: a / (1 − a) carries ~1 ulp, which log turns into ~1.2e-7 absolute near
        /// a = ½ (where the logit is near 0), plus ≤ 2 ulp of the result elsewhere.
        static let anchorAbsolute = 2.4e-7
        static let anchorRelative = 2.4e-7

        @Test(arguments: [(20, 20, 256), (5, 3, 16), (3, 7, 8)])
        func sinCosPositionEmbedding(width: Int, height: Int, embedDim: Int) {
            let got = PositionEmbedding.sinCos2D(width: width, height: height, embedDim: embedDim)
            let quarter = embedDim / 4
            var want = [Double]()
            for token in 0..<(width * height) {
                let y = Double(token / width), x = Double(token % width)
                let omega = (0..<quarter).map { 1 / Foundation.pow(10_000.0, Double($0) / Double(quarter)) }
                want += omega.map { Foundation.sin(y * $0) } + omega.map { Foundation.cos(y * $0) }
                want += omega.map { Foundation.sin(x * $0) } + omega.map { Foundation.cos(x * $0) }
            }
            OpsTests.expectClose(got, want, absolute: Self.embeddingAbsolute, "position embedding \(width)×\(height)")
            // Token 1 is (y 0, x 1): its first half is the y = 0 embedding, its sin-x block starts at sin(1).
            #expect(got[embedDim + 0] == 0 && got[embedDim + quarter] == 1 && got[embedDim + 2 * quarter] == Float(Foundation.sin(1.0)))
        }

        static func referenceAnchors(_ levels: [(Int, Int)]) -> (logits: [Double], valid: [Bool]) {
            var logits = [Double](), valid = [Bool]()
            for (level, (height, width)) in levels.enumerated() {
                for y in 0..<height {
                    for x in 0..<width {
                        let size = 0.05 * Double(1 << level)
                        let box = [(Double(x) + 0.5) / Double(width), (Double(y) + 0.5) / Double(height), size, size]
                        let inside = box.allSatisfy { $0 > 0.01 && $0 < 0.99 }
                        valid.append(inside)
                        logits += box.map { inside ? Foundation.log($0 / (1 - $0)) : Double(Float.greatestFiniteMagnitude) }
                    }
                }
            }
            return (logits, valid)
        }

        @Test func anchorsFor640Input() {
            let levels = [(80, 80), (40, 40), (20, 20)]
            let table = Anchors.generate(levels: levels.map { SpatialShape(height: $0.0, width: $0.1) })
            let want = Self.referenceAnchors(levels)
            #expect(table.count == 8400 && table.logits.count == 4 * 8400)
            #expect(table.valid == want.valid)
            // The outer ring of the 80×80 level falls outside (0.01, 0.99): 78² + 40² + 20² valid.
            #expect(table.valid.filter { $0 }.count == 78 * 78 + 1600 + 400)
            OpsTests.expectClose(table.logits, want.logits, absolute: Self.anchorAbsolute, relative: Self.anchorRelative, "anchors 640")
        }

        @Test func anchorsOddLevelsAndInvalidFill() {
            let levels = [(3, 7), (5, 2), (1, 1), (2, 2), (1, 3), (2, 1)]  // level 5: w = h = 1.6, all invalid
            let table = Anchors.generate(levels: levels.map { SpatialShape(height: $0.0, width: $0.1) })
            let want = Self.referenceAnchors(levels)
            #expect(table.valid == want.valid)
            OpsTests.expectClose(table.logits, want.logits, absolute: Self.anchorAbsolute, relative: Self.anchorRelative, "anchors odd")
            #expect(table.logits.suffix(8).allSatisfy { $0 == .greatestFiniteMagnitude })
        }
    }
}
