import type { EventId, EventStore, StreamId } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

interface StoredEvent {
  eventId: EventId;
  streamId: StreamId;
  message: JSONRPCMessage;
}

/**
 * A minimal in-memory {@link EventStore} so a stateful fixture's SSE streams are resumable
 * (MCP 2025-11-25 transports, "Resumability and Redelivery": replay only the messages of the
 * stream the `Last-Event-ID` belongs to, after that event).
 *
 * Event ids are `<streamId>#<sequence>`; the sequence is global to the store so ids are unique
 * and order is the order of arrival (no clock involved).
 */
export class InMemoryEventStore implements EventStore {
  private readonly events: StoredEvent[] = [];
  private readonly streamOf = new Map<EventId, StreamId>();
  private sequence = 0;

  /** Number of events stored so far (priming events included). */
  get size(): number {
    return this.events.length;
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    this.sequence += 1;
    const eventId = `${streamId}#${this.sequence}`;
    this.events.push({ eventId, streamId, message });
    this.streamOf.set(eventId, streamId);
    return eventId;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.streamOf.get(eventId);
  }

  async replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    const streamId = this.streamOf.get(lastEventId);
    if (streamId === undefined) return '';
    const start = this.events.findIndex((e) => e.eventId === lastEventId) + 1;
    for (const event of this.events.slice(start)) {
      if (event.streamId === streamId) await send(event.eventId, event.message);
    }
    return streamId;
  }
}
