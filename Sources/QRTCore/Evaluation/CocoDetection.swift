import Foundation

/// One detection in COCO's results format: `{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`.
public struct CocoDetection: Sendable, Equatable {
    public var imageID: Int
    public var categoryID: Int
    public var box: CocoBox
    public var score: Double

    public init(imageID: Int, categoryID: Int, box: CocoBox, score: Double) {
        self.imageID = imageID
        self.categoryID = categoryID
        self.box = box
        self.score = score
    }

    /// A detector's detection (corners in source pixels) on the image `imageID`.
    public init(_ detection: Detection, imageID: Int) {
        self.init(
            imageID: imageID, categoryID: detection.categoryID,
            box: CocoBox(x1: Double(detection.box.x1), y1: Double(detection.box.y1),
                         x2: Double(detection.box.x2), y2: Double(detection.box.y2)),
            score: Double(detection.score))
    }

    /// Reads a results file: a JSON list of detections.
    public static func loadResults(contentsOf url: URL) throws(CocoDataError) -> [CocoDetection] {
        let (reader, root) = try CocoJSON.read(url)
        return try results(root, reader)
    }

    /// Parses the bytes of a results file; `file` names it in errors.
    public static func results(json data: Data, file: String = "results.json") throws(CocoDataError) -> [CocoDetection] {
        let reader = CocoJSON(file: file)
        return try results(reader.parse(data), reader)
    }

    private static func results(_ root: CheckpointJSON.Value, _ reader: CocoJSON) throws(CocoDataError) -> [CocoDetection] {
        var detections: [CocoDetection] = []
        for (index, value) in try reader.array(root, "top level").enumerated() {
            let path = "[\(index)]"
            let fields = try reader.object(value, path)
            detections.append(CocoDetection(
                imageID: try reader.integer(reader.required(fields, "image_id", path), path + ".image_id"),
                categoryID: try reader.integer(reader.required(fields, "category_id", path), path + ".category_id"),
                box: try reader.box(reader.required(fields, "bbox", path), path + ".bbox"),
                score: try reader.number(reader.required(fields, "score", path), path + ".score")))
        }
        return detections
    }

    /// The detections as a results file (one object per line), for pycocotools or another evaluator.
    public static func resultsJSON(_ detections: [CocoDetection]) -> String {
        let lines = detections.map { d in
            "{\"image_id\":\(d.imageID),\"category_id\":\(d.categoryID),\"bbox\":[\(d.box.x),\(d.box.y),"
                + "\(d.box.width),\(d.box.height)],\"score\":\(d.score)}"
        }
        return "[\n" + lines.joined(separator: ",\n") + "\n]\n"
    }
}
