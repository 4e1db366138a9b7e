import Foundation
import Testing
@testable import QRTCore

extension OpsTests {
    /// The ops against values PyTorch and transformers computed (Fixtures/ops/ops_reference.json,
    /// written by tools/reference/ops_fixture.py from transformers' own RT-DETR functions).
    @Suite struct TorchFixtureTests {
        /// Deformable attention: torch sums the four bilinear products first, then weights them.
        static let deformableAbsolute = 2.0e-6
        /// Both sides compute in float64 and round once: equal, or 1 ulp apart after libm differences.
        static let embeddingAbsolute = 1.2e-7
        static let anchorAbsolute = 2.4e-7, anchorRelative = 2.4e-7
        static let layerNormRelative = 1.0e-5, layerNormAbsolute = 1.0e-6
        static let softmaxRelative = 1.0e-6, softmaxAbsolute = 1.0e-12
        static let sigmoidAbsolute = 3.0e-7, siluRelative = 5.0e-7, siluAbsolute = 1.0e-30
        /// torch's own float32 GELU is ~1.2e-6 from exact (cancellation in 1 + erf), ours ~3e-7.
        static let geluAbsolute = 2.0e-6, geluRelative = 1.0e-6
        static let inverseSigmoidAbsolute = 2.0e-7, inverseSigmoidRelative = 2.0e-7

        struct Fixture: Decodable {
            struct Deformable: Decodable {
                let levels: [[Int]]
                let heads: Int, headDim: Int, queries: Int, points: Int
                let value: [Double], locations: [Double], weights: [Double], output: [Double]
            }
            struct Embedding: Decodable {
                let width: Int, height: Int, embedDim: Int
                let temperature: Double
                let output: [Double]
            }
            struct AnchorSet: Decodable {
                let levels: [[Int]]
                let gridSize: Double
                let logits: [Double]
                let valid: [Bool]
            }
            struct LayerNorm: Decodable {
                let rows: Int, columns: Int
                let epsilon: Double
                let input: [Double], gamma: [Double], beta: [Double], output: [Double]
            }
            struct Softmax: Decodable {
                let rows: Int, columns: Int
                let input: [Double], output: [Double]
            }
            struct Activations: Decodable {
                let input: [Double], relu: [Double], silu: [Double], gelu: [Double], sigmoid: [Double]
            }
            struct Pair: Decodable { let input: [Double], output: [Double] }
            struct Pools: Decodable {
                let height: Int, width: Int, channels: Int
                let input: [Double], max3x3s2p1: [Double], avg2x2s2ceil: [Double], upsample2x: [Double]
            }
            let transformers: String
            let deformable: [Deformable]
            let positionEmbedding: [Embedding]
            let anchors: AnchorSet
            let layerNorm: LayerNorm
            let softmax: Softmax
            let activations: Activations
            let inverseSigmoid: Pair
            let pool: Pools
        }

        static func load() throws -> Fixture {
            let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            let data = try Data(contentsOf: root.appendingPathComponent("ops/ops_reference.json"))
            return try JSONDecoder().decode(Fixture.self, from: data)
        }

        static func floats(_ values: [Double]) -> [Float] { values.map { Float($0) } }

        @Test func deformableAttentionMatchesTransformers() throws {
            for c in try Self.load().deformable {
                let value = Self.floats(c.value), locations = Self.floats(c.locations), weights = Self.floats(c.weights)
                var output = [Float](repeating: .nan, count: c.output.count)
                value.withUnsafeBufferPointer { v in
                    locations.withUnsafeBufferPointer { l in
                        weights.withUnsafeBufferPointer { w in
                            output.withUnsafeMutableBufferPointer {
                                DeformableAttention.sample(
                                    value: v.baseAddress!, levels: c.levels.map { SpatialShape(height: $0[0], width: $0[1]) },
                                    heads: c.heads, headDim: c.headDim, locations: l.baseAddress!, weights: w.baseAddress!,
                                    queries: c.queries, points: c.points, into: $0.baseAddress!)
                            }
                        }
                    }
                }
                OpsTests.expectClose(output, Self.floats(c.output), absolute: Self.deformableAbsolute,
                                     "deformable attention headDim \(c.headDim)")
            }
        }

        @Test func positionEmbeddingMatchesTransformers() throws {
            for e in try Self.load().positionEmbedding {
                let got = PositionEmbedding.sinCos2D(width: e.width, height: e.height, embedDim: e.embedDim,
                                                     temperature: e.temperature)
                OpsTests.expectClose(got, Self.floats(e.output), absolute: Self.embeddingAbsolute,
                                     "position embedding \(e.width)×\(e.height)×\(e.embedDim)")
            }
        }

        @Test func anchorsMatchTransformers() throws {
            let a = try Self.load().anchors
            let table = Anchors.generate(levels: a.levels.map { SpatialShape(height: $0[0], width: $0[1]) },
                                         gridSize: Float(a.gridSize))
            #expect(table.valid == a.valid)
            #expect(zip(table.logits, a.logits).allSatisfy { ($0 == .greatestFiniteMagnitude) == (Float($1) == .greatestFiniteMagnitude) })
            OpsTests.expectClose(table.logits, Self.floats(a.logits), absolute: Self.anchorAbsolute, relative: Self.anchorRelative, "anchors")
        }

        @Test func layerNormAndSoftmaxMatchTorch() throws {
            let f = try Self.load()
            let ln = f.layerNorm
            let gamma = Self.floats(ln.gamma), beta = Self.floats(ln.beta)
            let normalized = gamma.withUnsafeBufferPointer { g in
                beta.withUnsafeBufferPointer { b in
                    OpsTests.applied(Self.floats(ln.input)) { p, _ in
                        Norm.layerNorm(p, rows: ln.rows, columns: ln.columns, gamma: g.baseAddress!, beta: b.baseAddress!,
                                       epsilon: Float(ln.epsilon))
                    }
                }
            }
            OpsTests.expectClose(normalized, Self.floats(ln.output), absolute: Self.layerNormAbsolute, relative: Self.layerNormRelative,
                                 "layerNorm vs torch")
            let sm = f.softmax
            let probabilities = OpsTests.applied(Self.floats(sm.input)) { p, _ in
                Softmax.rows(p, rows: sm.rows, columns: sm.columns)
            }
            OpsTests.expectClose(probabilities, Self.floats(sm.output), absolute: Self.softmaxAbsolute, relative: Self.softmaxRelative,
                                 "softmax vs torch")
        }

        @Test func activationsMatchTorch() throws {
            let f = try Self.load()
            let a = f.activations, x = Self.floats(a.input)
            #expect(OpsTests.applied(x) { Activation.relu($0, count: $1) } == Self.floats(a.relu))
            OpsTests.expectClose(OpsTests.applied(x) { Activation.sigmoid($0, count: $1) }, Self.floats(a.sigmoid),
                                 absolute: Self.sigmoidAbsolute, "sigmoid vs torch")
            OpsTests.expectClose(OpsTests.applied(x) { Activation.silu($0, count: $1) }, Self.floats(a.silu),
                                 absolute: Self.siluAbsolute, relative: Self.siluRelative, "silu vs torch")
            OpsTests.expectClose(OpsTests.applied(x) { Activation.gelu($0, count: $1) }, Self.floats(a.gelu),
                                 absolute: Self.geluAbsolute, relative: Self.geluRelative, "gelu vs torch")
            let inv = f.inverseSigmoid
            OpsTests.expectClose(OpsTests.applied(Self.floats(inv.input)) { Activation.inverseSigmoid($0, count: $1) },
                                 Self.floats(inv.output), absolute: Self.inverseSigmoidAbsolute, relative: Self.inverseSigmoidRelative,
                                 "inverse_sigmoid vs transformers")
        }

        @Test func poolsMatchTorchOnOddSizes() throws {
            let p = try Self.load().pool
            let input = Self.floats(p.input)
            func run(_ count: Int, _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
                var out = [Float](repeating: .nan, count: count)
                input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { body(i.baseAddress!, $0.baseAddress!) } }
                return out
            }
            let maxPooled = run(p.max3x3s2p1.count) {
                Pool.max3x3Stride2Pad1($0, height: p.height, width: p.width, channels: p.channels, into: $1)
            }
            let averaged = run(p.avg2x2s2ceil.count) {
                Pool.average2x2Stride2Ceil($0, height: p.height, width: p.width, channels: p.channels, into: $1)
            }
            let upsampled = run(p.upsample2x.count) {
                NHWC.upsampleNearest2x($0, height: p.height, width: p.width, channels: p.channels, into: $1)
            }
            #expect(maxPooled == Self.floats(p.max3x3s2p1))
            #expect(upsampled == Self.floats(p.upsample2x))
            OpsTests.expectClose(averaged, Self.floats(p.avg2x2s2ceil), absolute: 0, relative: 1.2e-7, "avg pool vs torch")
        }
    }
}
