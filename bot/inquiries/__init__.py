"""The inquiries wing: interest and questions in, the staff pipeline, the board, exports."""
