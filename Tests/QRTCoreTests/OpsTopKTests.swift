import Testing
@testable import QRTCore

extension OpsTests {
    @Suite struct TopKTests {
        /// The reference: a full sort by (value descending, index ascending), NaN left out.
        static func reference(_ values: [Float], k: Int) -> [Int] {
            let order = values.indices.filter { !values[$0].isNaN }.sorted {
                values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1
            }
            return Array(order.prefix(k))
        }

        static func run(_ values: [Float], k: Int) -> (indices: [Int], values: [Float]) {
            var indices = [Int](repeating: -1, count: k), top = [Float](repeating: .nan, count: k)
            let n = values.withUnsafeBufferPointer { v in
                indices.withUnsafeMutableBufferPointer { i in
                    top.withUnsafeMutableBufferPointer {
                        TopK.largest(v.baseAddress!, count: values.count, k: k, indices: i.baseAddress!, topValues: $0.baseAddress!)
                    }
                }
            }
            return (Array(indices.prefix(n)), Array(top.prefix(n)))
        }

        static func check(_ values: [Float], k: Int, _ what: String) {
            let got = run(values, k: k)
            let want = reference(values, k: k)
            #expect(got.indices == want, "\(what): indices differ")
            #expect(got.values == want.map { values[$0] }, "\(what): values differ")
        }

        @Test func randomScores() {
            var generator = OpsTests.SeededGenerator(seed: 300)
            Self.check(generator.normal(100_003), k: 300, "normal 100k")
            Self.check(generator.uniform(8400, in: 0...1), k: 300, "uniform 8400")
        }

        @Test func tiesGoToTheLowerIndex() {
            var generator = OpsTests.SeededGenerator(seed: 301)
            let coarse = (0..<5000).map { _ in Float(Int.random(in: 0..<7, using: &generator)) }
            Self.check(coarse, k: 300, "7 distinct values")
            Self.check([Float](repeating: 2, count: 1000), k: 10, "all equal")
            #expect(Self.run([1, 3, 3, 2, 3, 0], k: 2).indices == [1, 2])
        }

        @Test func adversarialOrders() {
            let ascending = (0..<20_000).map { Float($0) }
            Self.check(ascending, k: 300, "ascending")
            Self.check(ascending.reversed(), k: 300, "descending")
            Self.check((0..<1000).map { Float($0 % 17) - 8 }, k: 33, "sawtooth")
        }

        @Test func edgeSizes() {
            let small: [Float] = [0.5, -1, 7, 7, .infinity, -.infinity, 3]
            Self.check(small, k: 7, "k = count")
            Self.check(small, k: 50, "k > count")
            Self.check(small, k: 1, "k = 1")
            #expect(Self.run(small, k: 0).indices.isEmpty)
            Self.check([Float](repeating: 1, count: 17) + [2], k: 1, "maximum in the tail")
        }

        @Test func nanIsNeverSelected() {
            var values = (0..<100).map { Float($0 % 10) }
            values[3] = .nan
            values[50] = .nan
            Self.check(values, k: 20, "with NaN")
            let few = Self.run([.nan, 1, .nan], k: 3)
            #expect(few.indices == [1])
        }
    }
}
