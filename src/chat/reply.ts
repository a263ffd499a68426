/**
 * The neutral reply every platform renders. It is plain data, defined in the core so that the
 * ports (Notifier, Outbox) can carry it without depending on the chat layer; chat code keeps
 * importing it from here.
 */
export * from '../core/reply.ts';
