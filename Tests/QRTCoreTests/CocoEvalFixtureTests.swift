import Foundation
import Testing

@testable import QRTCore

/// `CocoEvaluator` against pycocotools 2.0 on the same files: Fixtures/coco holds a 20-image subset
/// of COCO val (10 with crowd regions, one without annotations), 605 synthetic detections (jittered,
/// duplicated, mislabelled, inside crowds, false positives, >100 per image and category, tied
/// scores) and pycocotools' 12 numbers for them (tools/eval/make_fixture.py).
@Suite struct CocoEvalFixtureTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("coco")

    struct Expected: Decodable {
        let stat_names: [String]
        let all: [Double]
        let score_at_least_0_5: [Double]
        /// Category id → [AP, AP50] (all areas, 100 detections).
        let per_category_all: [String: [Double]]

        enum CodingKeys: String, CodingKey {
            case stat_names, all, per_category_all
            case score_at_least_0_5 = "score_at_least_0.5"
        }
    }

    static func load() throws -> (CocoGroundTruth, [CocoDetection], Expected) {
        let truth = try CocoGroundTruth.load(contentsOf: directory.appendingPathComponent("instances.json"))
        let detections = try CocoDetection.loadResults(contentsOf: directory.appendingPathComponent("detections.json"))
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        return (truth, detections, expected)
    }

    @Test func fixtureLoads() throws {
        let (truth, detections, expected) = try Self.load()
        #expect(truth.images.count == 20)
        #expect(truth.annotations.count == 296)
        #expect(truth.annotations.count { $0.isCrowd } == 10)
        #expect(truth.annotations.count { $0.ignore } == 1)
        #expect(truth.categories.count == 80)
        #expect(detections.count == 605)
        #expect(expected.stat_names == CocoSummary.Metric.allCases.map(\.name))
    }

    @Test func allTwelveNumbersEqualPycocotools() throws {
        let (truth, detections, expected) = try Self.load()
        let summary = try CocoEvaluator(groundTruth: truth).evaluate(detections).summary
        for metric in CocoSummary.Metric.allCases {
            let (ours, theirs) = (summary[metric], expected.all[metric.rawValue])
            #expect(abs(ours - theirs) <= 1e-9, "\(metric.name): \(ours) vs pycocotools \(theirs)")
        }
    }

    @Test func confidentSubsetEqualsPycocotools() throws {
        let (truth, detections, expected) = try Self.load()
        let summary = try CocoEvaluator(groundTruth: truth).evaluate(detections.filter { $0.score >= 0.5 }).summary
        for metric in CocoSummary.Metric.allCases {
            let (ours, theirs) = (summary[metric], expected.score_at_least_0_5[metric.rawValue])
            #expect(abs(ours - theirs) <= 1e-9, "\(metric.name): \(ours) vs pycocotools \(theirs)")
        }
    }

    @Test func perCategoryAPEqualsPycocotools() throws {
        let (truth, detections, expected) = try Self.load()
        let evaluation = try CocoEvaluator(groundTruth: truth).evaluate(detections)
        #expect(evaluation.categoryIDs.count == expected.per_category_all.count)
        var withTruth = 0
        for (index, id) in evaluation.categoryIDs.enumerated() {
            let theirs = try #require(expected.per_category_all[String(id)])
            let (ap, ap50) = (evaluation.categoryAP(index), evaluation.categoryAP(index, iouThreshold: 0.5))
            #expect(abs(ap - theirs[0]) <= 1e-9, "category \(id) AP: \(ap) vs pycocotools \(theirs[0])")
            #expect(abs(ap50 - theirs[1]) <= 1e-9, "category \(id) AP50: \(ap50) vs pycocotools \(theirs[1])")
            if theirs[0] >= 0 { withTruth += 1 }
        }
        #expect(withTruth > 10)
    }

    /// No hidden state: the same detections give the same numbers twice.
    @Test func evaluationIsDeterministic() throws {
        let (truth, detections, _) = try Self.load()
        let evaluator = CocoEvaluator(groundTruth: truth)
        #expect(try evaluator.evaluate(detections).summary == evaluator.evaluate(detections).summary)
    }
}
