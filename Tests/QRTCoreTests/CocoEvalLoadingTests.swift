import Foundation
import Testing

@testable import QRTCore

/// Reading `instances.json` and results files: what COCO writes loads, and every malformed field
/// is refused with one line naming the file and the field.
@Suite struct CocoEvalLoadingTests {
    static let valid = """
        {"info": {"year": 2017}, "licenses": [],
         "images": [{"id": 139, "file_name": "000000000139.jpg", "width": 640, "height": 426, "license": 2}],
         "annotations": [
           {"id": 1, "image_id": 139, "category_id": 1, "bbox": [412.8, 157.61, 53.05, 138.01], "area": 2913.11,
            "iscrowd": 0, "segmentation": [[1, 2, 3, 4]]},
           {"id": 900100000139, "image_id": 139, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 1,
            "segmentation": {"counts": [1, 2], "size": [426, 640]}},
           {"id": 3, "image_id": 139, "category_id": 1, "bbox": [1, 1, 2, 2], "area": 4, "ignore": true}],
         "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}
        """

    static func load(_ json: String) throws(CocoDataError) -> CocoGroundTruth {
        try CocoGroundTruth(json: Data(json.utf8))
    }

    /// The one-line message for `json` with `original` replaced by `replacement`.
    static func failure(_ original: String, _ replacement: String) -> String? {
        precondition(valid.contains(original), "test edit does not apply: \(original)")
        do {
            _ = try load(valid.replacingOccurrences(of: original, with: replacement))
            return nil
        } catch {
            return error.description
        }
    }

    @Test func cocoFormatLoads() throws {
        let truth = try Self.load(Self.valid)
        #expect(truth.images == [CocoGroundTruth.Image(id: 139, fileName: "000000000139.jpg", width: 640, height: 426)])
        #expect(truth.categories == [CocoGroundTruth.Category(id: 1, name: "person")])
        #expect(truth.annotations.count == 3)
        #expect(truth.annotations[0].box == CocoBox(x: 412.8, y: 157.61, width: 53.05, height: 138.01))
        #expect(truth.annotations[0].area == 2913.11)
        #expect(truth.annotations.map(\.isCrowd) == [false, true, false])
        #expect(truth.annotations.map(\.ignore) == [false, false, true])
        #expect(truth.annotations[1].id == 900_100_000_139)
    }

    @Test func malformedFieldsAreNamed() {
        #expect(Self.failure(#""bbox": [412.8, 157.61, 53.05, 138.01]"#, #""bbox": [412.8, 157.61, 53.05]"#)
            == "instances.json: annotations[0].bbox: expected 4 numbers [x, y, width, height], got 3")
        #expect(Self.failure(#""bbox": [412.8, 157.61, 53.05, 138.01]"#, #""bbox": [412.8, "a", 53.05, 138.01]"#)
            == "instances.json: annotations[0].bbox[1]: expected a finite number, got 'a'")
        #expect(Self.failure(#""bbox": [412.8, 157.61, 53.05, 138.01]"#, #""bbox": [412.8, 157.61, -1, 138.01]"#)
            == "instances.json: annotations[0].bbox: width and height must not be negative, got -1.0, 138.01")
        #expect(Self.failure(#""area": 2913.11,"#, "")
            == "instances.json: annotations[0]: missing field 'area'")
        #expect(Self.failure(#""area": 2913.11"#, #""area": -3"#)
            == "instances.json: annotations[0].area: must not be negative, got -3.0")
        #expect(Self.failure(#""iscrowd": 1"#, #""iscrowd": 2"#)
            == "instances.json: annotations[1].iscrowd: expected 0 or 1, got 2")
        #expect(Self.failure(#""id": 3, "image_id": 139"#, #""id": 3.5, "image_id": 139"#)
            == "instances.json: annotations[2].id: expected an integer, got 3.5")
        #expect(Self.failure(#""id": 3, "image_id": 139"#, #""id": 1, "image_id": 139"#)
            == "instances.json: annotations[2].id: duplicate annotation id 1")
        #expect(Self.failure(#""id": 3, "image_id": 139"#, #""id": 3, "image_id": 140"#)
            == "instances.json: annotations[2].image_id: image 140 is not in 'images'")
        #expect(Self.failure(#""category_id": 1, "bbox": [1, 1"#, #""category_id": 5, "bbox": [1, 1"#)
            == "instances.json: annotations[2].category_id: category 5 is not in 'categories'")
        #expect(Self.failure(#""file_name": "000000000139.jpg", "#, "")
            == "instances.json: images[0]: missing field 'file_name'")
        #expect(Self.failure(#""width": 640"#, #""width": "640""#)
            == "instances.json: images[0].width: expected an integer, got '640'")
        #expect(Self.failure(#""name": "person""#, #""name": 1"#)
            == "instances.json: categories[0].name: expected a string, got 1")
        #expect(Self.failure(#""categories": [{"#, #""categorie": [{"#)
            == "instances.json: top level: missing field 'categories'")
        #expect(Self.failure(#""annotations": ["#, #""annotations": {"a": ["#)?.hasPrefix("instances.json: invalid JSON at byte") == true)
    }

    @Test func notJSONIsOneLine() {
        #expect(throws: CocoDataError(file: "instances.json", field: nil, "invalid JSON at byte 0: invalid literal")) {
            try Self.load("not json")
        }
        #expect(throws: CocoDataError(file: "instances.json", field: "top level", "expected an object, got a list")) {
            try Self.load("[]")
        }
    }

    @Test func missingFileIsNamed() {
        let url = URL(fileURLWithPath: "/nonexistent/instances.json")
        #expect(throws: CocoDataError(file: "instances.json", field: nil, "no such file (/nonexistent/instances.json)")) {
            try CocoGroundTruth.load(contentsOf: url)
        }
    }

    @Test func resultsLoadAndRoundTrip() throws {
        let detections = try CocoDetection.results(json: Data("""
            [{"image_id": 139, "category_id": 1, "bbox": [1.5, 2, 3, 4], "score": 0.25},
             {"image_id": 139, "category_id": 3, "bbox": [0, 0, 1e-3, 10], "score": 1}]
            """.utf8))
        #expect(detections == [
            CocoDetection(imageID: 139, categoryID: 1, box: CocoBox(x: 1.5, y: 2, width: 3, height: 4), score: 0.25),
            CocoDetection(imageID: 139, categoryID: 3, box: CocoBox(x: 0, y: 0, width: 0.001, height: 10), score: 1),
        ])
        let written = CocoDetection.resultsJSON(detections)
        #expect(try CocoDetection.results(json: Data(written.utf8)) == detections)
        #expect(throws: CocoDataError(file: "results.json", field: "[0]", "missing field 'score'")) {
            try CocoDetection.results(json: Data(#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]"#.utf8))
        }
    }
}
