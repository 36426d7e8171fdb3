//! Object detection (Table 3: YOLOv3 on COCO 2014) as a task: YOLOv3's loss, decoding,
//! non-maximum suppression and COCO's box mAP.

pub mod coco_eval;
pub mod eval;
pub mod loss;
pub mod nms;
pub mod task;
