import Foundation
import Testing

@testable import QRTCore

/// `CocoEvaluator` on cases small enough to work out by hand.
@Suite struct CocoEvalTests {
    typealias Annotation = CocoGroundTruth.Annotation

    static let images = [
        CocoGroundTruth.Image(id: 1, fileName: "a.jpg", width: 640, height: 480),
        CocoGroundTruth.Image(id: 2, fileName: "b.jpg", width: 640, height: 480),
    ]
    static let categories = [CocoGroundTruth.Category(id: 1, name: "person"), CocoGroundTruth.Category(id: 3, name: "car")]

    static func truth(_ annotations: [Annotation]) throws -> CocoGroundTruth {
        try CocoGroundTruth(images: images, annotations: annotations, categories: categories)
    }

    /// Precision is tp / (tp + fp + ε) as in pycocotools (ε = 2.2e-16), so "1" is 1 - 2.2e-16.
    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }

    static func close(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { close($0, $1) } }

    static func box(_ x: Double, _ y: Double, _ w: Double, _ h: Double) -> CocoBox {
        CocoBox(x: x, y: y, width: w, height: h)
    }

    static func detection(_ image: Int, _ category: Int, _ box: CocoBox, _ score: Double) -> CocoDetection {
        CocoDetection(imageID: image, categoryID: category, box: box, score: score)
    }

    /// One small (20×20), one medium (50×50) and one large (200×100) object; one per image and category.
    static let threeSizes: [Annotation] = [
        Annotation(id: 1, imageID: 1, categoryID: 1, box: box(10, 10, 20, 20), area: 400),
        Annotation(id: 2, imageID: 1, categoryID: 3, box: box(100, 100, 50, 50), area: 2500),
        Annotation(id: 3, imageID: 2, categoryID: 1, box: box(0, 0, 200, 100), area: 20000),
    ]

    // MARK: - IoU

    @Test func iouOfKnownBoxes() {
        let a = Self.box(0, 0, 10, 10)
        #expect(CocoBox.iou(detection: a, groundTruth: a, crowd: false) == 1)
        // 5×5 overlap: 25 / (100 + 100 - 25).
        #expect(CocoBox.iou(detection: a, groundTruth: Self.box(5, 5, 10, 10), crowd: false) == 25.0 / 175)
        // Half of a 10×10 box: 50 / 100.
        #expect(CocoBox.iou(detection: Self.box(0, 0, 10, 5), groundTruth: a, crowd: false) == 0.5)
        // Touching edges and disjoint boxes do not overlap.
        #expect(CocoBox.iou(detection: Self.box(10, 0, 10, 10), groundTruth: a, crowd: false) == 0)
        #expect(CocoBox.iou(detection: Self.box(50, 50, 10, 10), groundTruth: a, crowd: false) == 0)
        // A crowd region's union is the detection's area: inside scores 1, 20×20 over a 10×10 crowd 100/400.
        #expect(CocoBox.iou(detection: Self.box(2, 2, 4, 4), groundTruth: a, crowd: true) == 1)
        #expect(CocoBox.iou(detection: Self.box(0, 0, 20, 20), groundTruth: a, crowd: true) == 0.25)
        #expect(CocoBox.iou(detection: Self.box(0, 0, 20, 20), groundTruth: a, crowd: false) == 0.25)
        // Empty boxes never overlap.
        #expect(CocoBox.iou(detection: Self.box(5, 5, 0, 0), groundTruth: a, crowd: false) == 0)
    }

    @Test func boxFromCorners() {
        let box = CocoBox(x1: 10, y1: 20, x2: 40, y2: 30)
        #expect(box == Self.box(10, 20, 30, 10))
        #expect(box.area == 300)
    }

    @Test func thresholdsAreNumpyLinspace() {
        let p = CocoEvaluator.Parameters.default
        #expect(p.iouThresholds.count == 10 && p.recallThresholds.count == 101)
        #expect(p.iouThresholds[5] == 0.75)
        #expect(p.iouThresholds[8] == 0.8999999999999999)  // numpy's value, not 0.9
        #expect(p.recallThresholds[57] == 0.5700000000000001)
        #expect(p.recallThresholds.last == 1)
        #expect(p.maxDetections == [1, 10, 100])
        #expect(p.areaRanges.map(\.label) == ["all", "small", "medium", "large"])
    }

    // MARK: - Whole evaluations

    @Test func perfectDetectionsScoreOne() throws {
        let detections = Self.threeSizes.map { Self.detection($0.imageID, $0.categoryID, $0.box, 0.9) }
        let summary = try CocoEvaluator(groundTruth: Self.truth(Self.threeSizes)).evaluate(detections).summary
        #expect(Self.close(summary.values, [Double](repeating: 1, count: 12)))
    }

    @Test func noDetectionsScoreZero() throws {
        let summary = try CocoEvaluator(groundTruth: Self.truth(Self.threeSizes)).evaluate([]).summary
        #expect(summary.values == [Double](repeating: 0, count: 12))
    }

    @Test func undefinedNumbersAreMinusOne() throws {
        // Only a large object: small and medium have no ground truth anywhere.
        let truth = try Self.truth([Self.threeSizes[2]])
        let summary = try CocoEvaluator(groundTruth: truth).evaluate([]).summary
        #expect(summary[.apSmall] == -1 && summary[.apMedium] == -1 && summary[.arSmall] == -1 && summary[.arMedium] == -1)
        #expect(summary[.ap] == 0 && summary[.apLarge] == 0 && summary[.ar100] == 0)
        // No ground truth at all: everything is undefined.
        let empty = try CocoEvaluator(groundTruth: Self.truth([])).evaluate([Self.detection(1, 1, Self.box(0, 0, 9, 9), 1)])
        #expect(empty.summary.values == [Double](repeating: -1, count: 12))
    }

    /// Two objects; ranked detections hit, miss, hit. Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1;
    /// the envelope makes it 1, 2/3, 2/3, so recall thresholds 0…0.50 (51) read 1 and 0.51…1 (50)
    /// read 2/3: AP = (51 + 50 × 2/3) / 101 at every IoU threshold.
    @Test func handComputedAveragePrecision() throws {
        let truth = try Self.truth([
            Annotation(id: 1, imageID: 1, categoryID: 1, box: Self.box(0, 0, 100, 100), area: 10000),
            Annotation(id: 2, imageID: 2, categoryID: 1, box: Self.box(200, 200, 100, 100), area: 10000),
        ])
        let detections = [
            Self.detection(1, 1, Self.box(0, 0, 100, 100), 0.9),
            Self.detection(1, 1, Self.box(300, 300, 100, 100), 0.8),
            Self.detection(2, 1, Self.box(200, 200, 100, 100), 0.7),
        ]
        let evaluation = try CocoEvaluator(groundTruth: truth).evaluate(detections)
        let ap = (51 + 50 * (2.0 / 3)) / 101
        #expect(Self.close(evaluation.summary[.ap], ap))
        #expect(Self.close(evaluation.summary[.ap50], ap))
        #expect(evaluation.summary[.ar100] == 1)
        // maxDets 1: each image keeps its best detection (hit, hit), both objects found.
        #expect(evaluation.summary[.ar1] == 1)
        #expect(Self.close(evaluation.precision(iou: 0, recall: 50, category: 0, area: 0, maxDetections: 2), 1))
        #expect(Self.close(evaluation.precision(iou: 0, recall: 51, category: 0, area: 0, maxDetections: 2), 2.0 / 3))
    }

    /// A detection overlapping its object with IoU 0.64 counts at thresholds 0.50…0.60 only.
    @Test func partialOverlapCountsBelowItsIoU() throws {
        let truth = try Self.truth([Annotation(id: 1, imageID: 1, categoryID: 1, box: Self.box(0, 0, 100, 100), area: 10000)])
        let summary = try CocoEvaluator(groundTruth: truth).evaluate([Self.detection(1, 1, Self.box(0, 0, 100, 64), 0.5)]).summary
        #expect(Self.close(summary[.ap50], 1))
        #expect(summary[.ap75] == 0)
        #expect(Self.close(summary[.ap], 0.3))  // 3 of 10 thresholds
    }

    /// Detections inside a crowd region are neither hits nor false positives, however many.
    @Test func detectionsOnCrowdAreIgnored() throws {
        let truth = try Self.truth([
            Annotation(id: 1, imageID: 1, categoryID: 1, box: Self.box(0, 0, 50, 50), area: 2500),
            Annotation(id: 2, imageID: 1, categoryID: 1, box: Self.box(100, 100, 300, 200), area: 40000, isCrowd: true),
        ])
        let detections = [
            Self.detection(1, 1, Self.box(110, 110, 40, 40), 0.99),
            Self.detection(1, 1, Self.box(200, 150, 40, 40), 0.98),
            Self.detection(1, 1, Self.box(300, 200, 40, 40), 0.97),
            Self.detection(1, 1, Self.box(0, 0, 50, 50), 0.5),
        ]
        let summary = try CocoEvaluator(groundTruth: truth).evaluate(detections).summary
        #expect(Self.close(summary[.ap], 1))
        // Without the crowd flag the region is one object: the first detection misses it (IoU < 0.5).
        var plain = truth
        plain.annotations[1].isCrowd = false
        #expect(try CocoEvaluator(groundTruth: plain).evaluate(detections).summary[.ap] < 0.5)
        // Only crowd ground truth: nothing to find, so undefined.
        let crowdOnly = try Self.truth([truth.annotations[1]])
        #expect(try CocoEvaluator(groundTruth: crowdOnly).evaluate(detections).summary[.ap] == -1)
    }

    /// The `area` field, not the box, decides small / medium / large.
    @Test func areaFieldDecidesTheSizeRange() throws {
        let truth = try Self.truth([Annotation(id: 1, imageID: 1, categoryID: 1, box: Self.box(0, 0, 200, 200), area: 500)])
        let summary = try CocoEvaluator(groundTruth: truth).evaluate([Self.detection(1, 1, Self.box(0, 0, 200, 200), 1)]).summary
        #expect(Self.close(summary[.apSmall], 1))
        #expect(summary[.apLarge] == -1)
    }

    /// maxDets 1 keeps one detection per image and category: of two objects, AR1 finds one.
    @Test func maxDetectionsLimitsPerImageAndCategory() throws {
        let truth = try Self.truth([
            Annotation(id: 1, imageID: 1, categoryID: 1, box: Self.box(0, 0, 100, 100), area: 10000),
            Annotation(id: 2, imageID: 1, categoryID: 1, box: Self.box(200, 200, 100, 100), area: 10000),
        ])
        let detections = truth.annotations.map { Self.detection(1, 1, $0.box, 0.8) }
        let summary = try CocoEvaluator(groundTruth: truth).evaluate(detections).summary
        #expect(summary[.ar1] == 0.5)
        #expect(summary[.ar10] == 1)
        // 101 false positives scored above the hits push them past the 100 kept.
        let noise = (0..<101).map { Self.detection(1, 1, Self.box(Double($0 % 10) * 60, 400, 5, 5), 0.9) }
        #expect(try CocoEvaluator(groundTruth: truth).evaluate(noise + detections).summary[.ar100] == 0)
    }

    /// Equal scores keep their input order (numpy's stable mergesort).
    @Test func tiesKeepInputOrder() throws {
        let truth = try Self.truth([Annotation(id: 1, imageID: 1, categoryID: 1, box: Self.box(0, 0, 100, 100), area: 10000)])
        let hit = Self.detection(1, 1, Self.box(0, 0, 100, 100), 0.5)
        let miss = Self.detection(1, 1, Self.box(300, 300, 100, 100), 0.5)
        let evaluator = CocoEvaluator(groundTruth: truth)
        #expect(Self.close(try evaluator.evaluate([hit, miss]).summary[.ap], 1))
        #expect(Self.close(try evaluator.evaluate([miss, hit]).summary[.ap], 0.5))  // precision 1/2 at recall 1
        #expect(CocoEvaluator.rankedByScore([0, 1, 2, 3], [miss, hit, hit, miss]) == [0, 1, 2, 3])
    }

    /// pycocotools replaces `ignore` with `iscrowd`; `honorsIgnoreField` keeps it.
    @Test func ignoreFieldFollowsPycocotoolsUnlessAsked() throws {
        let truth = try Self.truth([
            Annotation(id: 1, imageID: 1, categoryID: 1, box: Self.box(0, 0, 100, 100), area: 10000, ignore: true),
            Annotation(id: 2, imageID: 2, categoryID: 1, box: Self.box(0, 0, 100, 100), area: 10000),
        ])
        let detections = [Self.detection(2, 1, Self.box(0, 0, 100, 100), 1)]
        #expect(try CocoEvaluator(groundTruth: truth).evaluate(detections).summary[.ar100] == 0.5)
        var parameters = CocoEvaluator.Parameters.default
        parameters.honorsIgnoreField = true
        #expect(try CocoEvaluator(groundTruth: truth, parameters: parameters).evaluate(detections).summary[.ar100] == 1)
    }

    @Test func detectionsOfUnknownCategoriesAreLeftOut() throws {
        let detections = Self.threeSizes.map { Self.detection($0.imageID, $0.categoryID, $0.box, 0.9) }
            + [Self.detection(1, 77, Self.box(0, 0, 10, 10), 1)]
        #expect(Self.close(try CocoEvaluator(groundTruth: Self.truth(Self.threeSizes)).evaluate(detections).summary[.ap], 1))
    }

    @Test func detectionOnUnknownImageIsAnError() throws {
        let error = #expect(throws: CocoDataError.self) {
            try CocoEvaluator(groundTruth: Self.truth(Self.threeSizes)).evaluate([Self.detection(9, 1, Self.box(0, 0, 1, 1), 1)])
        }
        #expect(error?.description == "<detections>: [0].image_id: image 9 is not in the ground truth")
        let nan = #expect(throws: CocoDataError.self) {
            try CocoEvaluator(groundTruth: Self.truth(Self.threeSizes)).evaluate([Self.detection(1, 1, Self.box(0, 0, 1, 1), .nan)])
        }
        #expect(nan?.description == "<detections>: [0]: score or bbox is not finite")
    }

    // MARK: - Pseudo labels (FP-agreement)

    @Test func pseudoLabelsKeepConfidentDetections() throws {
        let detections = [
            Self.detection(1, 1, Self.box(0, 0, 10, 20), 0.9),
            Self.detection(1, 3, Self.box(50, 50, 30, 30), 0.4),
            Self.detection(2, 1, Self.box(5, 5, 100, 100), 0.5),
            Self.detection(2, 77, Self.box(5, 5, 100, 100), 0.9),  // category not listed
        ]
        let truth = CocoGroundTruth.pseudoLabels(from: detections, images: Self.images, categories: Self.categories)
        #expect(truth.annotations == [
            Annotation(id: 1, imageID: 1, categoryID: 1, box: Self.box(0, 0, 10, 20), area: 200),
            Annotation(id: 2, imageID: 2, categoryID: 1, box: Self.box(5, 5, 100, 100), area: 10000),
        ])
        // A model agrees with itself perfectly: low-score extras rank below every hit.
        #expect(Self.close(try CocoEvaluator(groundTruth: truth).evaluate(detections).summary[.ap], 1))
    }

    @Test func restrictedKeepsTheChosenImages() throws {
        let truth = try Self.truth(Self.threeSizes).restricted(toImages: [2])
        #expect(truth.images.map(\.id) == [2])
        #expect(truth.annotations.map(\.id) == [3])
        #expect(truth.categories.count == 2)
    }

    @Test func detectorDetectionsConvertToCocoBoxes() {
        let detection = Detection(label: "car", categoryID: 3, score: 0.75, box: (x1: 10, y1: 20, x2: 110, y2: 70))
        #expect(CocoDetection(detection, imageID: 7) == Self.detection(7, 3, Self.box(10, 20, 100, 50), 0.75))
    }

    @Test func summaryTableHasTwelveLines() throws {
        let summary = try CocoEvaluator(groundTruth: Self.truth([Self.threeSizes[2]])).evaluate([]).summary
        let lines = summary.table().split(separator: "\n")
        #expect(lines.count == 12)
        #expect(lines[0] == "AP     0.0000  Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]")
        #expect(lines[3] == "APs        -1  Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]")
        #expect(lines[7] == "AR10   0.0000  Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]")
    }
}
