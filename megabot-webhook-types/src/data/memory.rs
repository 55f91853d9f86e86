//! `memory_lesson_learned`.

use crate::data::{FiniteF64, event_data};

event_data! {
    /// `memory_lesson_learned`: MegaBot learned a lesson.
    pub struct MemoryLessonLearned {
        /// The lesson's id.
        "lesson_id" => lesson_id: req String,
        /// The kind of lesson (`type` on the wire).
        "type" => lesson_type: opt String,
        /// Its title.
        "title" => title: opt String,
        /// What was learned.
        "content" => content: opt String,
        /// Confidence, 0 to 1.
        "confidence" => confidence: opt FiniteF64,
        /// What it was learned from (often an event name).
        "source" => source: opt String,
        /// Tags.
        "tags" => tags: opt Vec<String>,
    }
}
